/** Frames a venue's fast scanner must defer on: canonical frames, maybe re-formatted, with 1-3 one-character edits. */
import fc from 'fast-check';

/**
 * Edit characters: digits, JSON punctuation, exponent/sign letters, whitespace, escapes (A: a letter), and
 * non-ASCII ones the scanners must not read as ASCII (é; İ U+0130 and Ģ U+0122, whose low bytes are "0" and '"').
 */
export const EDIT_CHARS = '0123456789.,:"[]{}eE-+ \\xuAé\u0130\u0122';

export function mutatedFrames(canonical: fc.Arbitrary<string>, chars = EDIT_CHARS): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.constantFrom('del', 'ins', 'rep'), fc.constantFrom(...chars.split('')));
  return fc
    .tuple(canonical, fc.array(edit, { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([frame, edits, pretty]) => {
      let text = pretty ? JSON.stringify(JSON.parse(frame), null, 1) : frame; // whitespace: the scanner must defer
      for (const [at, op, ch] of edits) {
        const i = at % (text.length + 1);
        if (op === 'del') text = text.slice(0, i) + text.slice(i + 1);
        else if (op === 'ins') text = text.slice(0, i) + ch + text.slice(i);
        else text = text.slice(0, i) + ch + text.slice(i + 1);
      }
      return text;
    });
}
