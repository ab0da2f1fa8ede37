/**
 * The books a simulator serves, named as a user names them: any venue's spelling or the unified one
 * (BTCUSDT, BTC-USDT-SWAP, BTC/USDT:USDT). Which market a name is on each venue is the adapters' knowledge
 * (venueSymbolFrom, src/venues/); the protocol module then gives the simulator's canonical name of that
 * book (BTC-USDT-SWAP -> BTCUSDTSWAP), and a venue serves the name only if the module spells it back alike
 * (OKX dated futures are not simulated).
 */
import { findVenue, venueSymbolFrom } from '../venues/index.js';
import { SIM_VENUES, type VenueId, type VenueProtocol } from './protocols/types.js';

/** A symbol the served venues cannot take: a user's mistake, printed as one line. */
export class SymbolError extends Error {
  override name = 'SymbolError';
}

/** The canonical symbol of `name` on the protocol's venue; undefined when that venue has no such book. */
export function simSymbol(protocol: VenueProtocol, name: string): string | undefined {
  const spelled =
    findVenue(protocol.id) === undefined ? ownSpelling(protocol, name) : venueSymbolFrom(protocol.id, name.trim());
  const c = spelled === undefined ? undefined : protocol.canonicalSymbol(spelled);
  return c !== undefined && protocol.venueSymbol(c) === spelled ? c : undefined;
}

/**
 * A venue simulated before its adapter is registered (Kraken while its adapter is written): the protocol
 * module's own reading of the name, in its own or the canonical spelling (BTCUSD, BTC/USD).
 */
function ownSpelling(protocol: VenueProtocol, name: string): string | undefined {
  const c = protocol.canonicalSymbol(name.trim());
  return c === undefined ? undefined : protocol.venueSymbol(c);
}

/** The error for a symbol none of `served` can take, naming the venues that could. */
export function unservable(name: string, served: readonly string[]): SymbolError {
  const others = SIM_VENUES.filter(
    (v: VenueId) => !served.includes(v) && findVenue(v) !== undefined && venueSymbolFrom(v, name.trim()) !== undefined,
  );
  const hint = others.length > 0 ? `; ${others.join(', ')} would (--venues)` : '';
  return new SymbolError(
    `symbol "${name}": no simulated venue (${served.join(', ')}) serves that market${hint}; spell it as a venue does or BASE/QUOTE[:SETTLE]`,
  );
}
