// Table sources: pre-encoded UPDATE streams, synthetic (calibrated to the real table) or read
// from MRT dumps, so that sending a full table costs one socket write per chunk.
export { expectedPrefixes, generateTable, type SyntheticOptions } from './synthetic.js';
export { readRibDump, readUpdates, type MrtRibPeer, type MrtUpdate, type MrtUpdatesSummary, type RibDump, type RibDumpOptions } from './mrt.js';
export { endOfRibMarkers, type EncodedTable } from './table.js';
