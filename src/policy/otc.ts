// Only to Customer (RFC 9234 §5): what a session's configured role means for routes that come
// in and go out. `role` is ours on the session; the neighbor is its counterpart (we are its
// provider: it is our customer).

/** Our role on a session, as configured (RFC 9234 §4.1 names). */
type RoleName = 'provider' | 'customer' | 'peer' | 'rs-server' | 'rs-client';

/** RFC 9234 §5 ingress for one neighbor. */
export interface OtcIngress {
  /** A route with OTC is a leak: from a customer or RS-client always, from a peer unless OTC is its AS. */
  leak: 'any' | 'not-peer-as' | 'none';
  /** A route without OTC gets OTC = the neighbor's AS (from a provider, peer or route server). */
  mark: boolean;
  /** The neighbor's AS. */
  asn: number;
}

/** RFC 9234 §5 egress for one neighbor. */
export interface OtcEgress {
  /** No route with OTC goes to a provider, peer or route server. */
  block: boolean;
  /** Routes without OTC leave with OTC = our AS (to a customer, peer or RS-client). */
  mark: boolean;
}

export function otcIngress(role: RoleName | undefined, remoteAs: number): OtcIngress | undefined {
  switch (role) {
    case 'provider': // the neighbor is our customer
    case 'rs-server': // ... or our RS-client
      return { leak: 'any', mark: false, asn: remoteAs };
    case 'peer':
      return { leak: 'not-peer-as', mark: true, asn: remoteAs };
    case 'customer': // the neighbor is our provider
    case 'rs-client': // ... or the route server we are a client of
      return { leak: 'none', mark: true, asn: remoteAs };
    default:
      return undefined;
  }
}

export function otcEgress(role: RoleName | undefined): OtcEgress | undefined {
  switch (role) {
    case 'customer': // to our provider
    case 'rs-client': // to the route server
      return { block: true, mark: false };
    case 'peer':
      return { block: true, mark: true };
    case 'provider': // to our customer
    case 'rs-server': // to our RS-client
      return { block: false, mark: true };
    default:
      return undefined;
  }
}
