/**
 * A venue's book integrity check (OKX's legacy CRC32 of the top 25 levels; Kraken's and Bitget's are alike):
 * a check value the venue sends with an event, computed over its book after that event, in the venue's own
 * spelling of the levels. The adapter (src/venues/) says how to read it and how to verify it; the arbiter
 * core runs it on the consolidated book after applying an event that carries one. Pure.
 */
import type { OrderBook, StringBookLevels, StringLevel } from './book.js';

/** What an event carries for the check: its levels as the venue spelled them, and the check value. */
export interface IntegrityInfo {
  bids: StringLevel[];
  asks: StringLevel[];
  checksum: number;
}

export interface BookIntegrity {
  /** Levels per side the check covers (the core reads this many, best first). */
  readonly depth: number;
  /**
   * The check of one event, from the venue's original text (BookDelta.raw / BookSnapshot.raw); undefined
   * when the event carries none (OKX: checksum 0 since 2026-06) or the text is not the venue's.
   */
  read(raw: string): IntegrityInfo | undefined;
  /** Whether the book's top `depth` levels per side (venue spelling, best first) match the check value. */
  verify(top: StringBookLevels, checksum: number): boolean;
  /**
   * verify(book.topStrings(depth), checksum), read from the book in place: the same answer, cheaper (a check
   * on every message, Kraken's, would otherwise spend more on its copies of the top than on the book).
   * Optional; callers use it when present.
   */
  verifyBook?(book: OrderBook, checksum: number): boolean;
}

/** The check of `book` against `checksum` by whichever way `check` offers (verifyBook when it has one). */
export function verifyTop(check: BookIntegrity, book: OrderBook, checksum: number): boolean {
  return check.verifyBook !== undefined
    ? check.verifyBook(book, checksum)
    : check.verify(book.topStrings(check.depth), checksum);
}
