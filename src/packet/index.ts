// The wire codec: pure functions over bytes, each decoder the exact inverse of its encoder.
export * from './address.js';
export * from './attributes.js';
export * from './attr/as4.js';
export * from './constants.js';
export * from './errors.js';
export * from './header.js';
export * from './nlri.js';
export * from './notification.js';
export * from './open.js';
export * from './routeRefresh.js';
export * from './update.js';
