/**
 * A deterministic list of Binance-spot-like symbols (BASE+QUOTE, upper case, as Binance spells them) for
 * measurements that need a whole market: real base assets paired with the quotes Binance lists most
 * (USDT, BTC, FDUSD, USDC, TRY, BNB, ETH, EUR), then made-up bases of 3-6 letters paired with USDT and BTC
 * until `n`. Not the real list (none is recorded here); what matters to the users (partition balance) is
 * that the strings have the real ones' shape and are distinct.
 */

const REAL_BASES = (
  'BTC ETH BNB SOL XRP DOGE ADA TRX AVAX SHIB DOT LINK TON MATIC POL LTC BCH NEAR UNI ICP APT ETC FIL ATOM ' +
  'ARB OP IMX INJ STX HBAR VET MKR RNDR GRT AAVE ALGO QNT SAND MANA AXS THETA EGLD FTM FLOW XTZ EOS CHZ ' +
  'KAVA NEO IOTA ZEC DASH XLM XMR CAKE CRV COMP SNX LDO SUI SEI TIA PEPE FLOKI BONK WIF JUP PYTH ORDI ' +
  'WLD FET AGIX OCEAN GALA ENJ BAT ZIL ONE ROSE KSM RUNE 1INCH SUSHI YFI BAL ZRX ANKR STORJ SKL CELO ' +
  'ENS LRC DYDX GMX MAGIC BLUR APE GMT JASMY ID HOOK SSV RPL FXS CFX KLAY MINA WOO AR LUNA LUNC USTC ' +
  'BAND API3 TRB UMA PENDLE ACE XAI MANTA ALT STRK PIXEL PORTAL AEVO ETHFI ENA W TNSR SAGA REZ BB NOT ' +
  'IO ZK LISTA ZRO BANANA RENDER TAO DOGS CATI HMSTR NEIRO TURBO EIGEN SCR COW CETUS PNUT ACT USUAL ' +
  'MOVE ME VANA PENGU BIO TRUMP S LAYER KAITO IP'
).split(' ');
const QUOTES = ['USDT', 'BTC', 'FDUSD', 'USDC', 'TRY', 'BNB', 'ETH', 'EUR'];
const MINOR_QUOTES = ['USDT', 'BTC'];

export function binanceLikeSymbols(n: number, seed = 1): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (s: string) => {
    if (out.length < n && !seen.has(s)) {
      seen.add(s);
      out.push(s);
    }
  };
  for (const base of REAL_BASES) for (const q of QUOTES) if (base !== q) add(base + q);
  // made-up bases from a small linear congruential generator: the same list on every run
  let x = seed >>> 0;
  const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  while (out.length < n) {
    const len = 3 + (next() % 4);
    let base = '';
    for (let i = 0; i < len; i++) base += String.fromCharCode(65 + (next() % 26));
    for (const q of MINOR_QUOTES) add(base + q);
  }
  return out;
}
