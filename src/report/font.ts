/**
 * A built-in 5×9 bitmap font for figure text (printable ASCII 32–126; anything else draws as
 * '?'). Capitals and digits are 7 rows tall; rows 7–8 hold descenders (g j p q y , ;).
 * Each glyph is 9 base-32 characters, one per row from the top, whose 5 bits are the row's
 * pixels with the most significant bit leftmost. Characters advance by 6 px (1 px spacing).
 */

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 9;
/** Height of capitals and digits (rows above the baseline). */
export const CAP_HEIGHT = 7;
/** Horizontal advance per character, spacing included. */
export const ADVANCE = 6;

const FIRST = 32;
const LAST = 126;
const B32 = '0123456789abcdefghijklmnopqrstuv';
const DATA =
  '000000000444440400aaa000000aavavaa004fke5u400op248j300cik8lid0044800000024888420084222480004lel4000044v4400000000cc48000v0000000000cc0001248g000ehjlphe004c4444e00eh1248v00v2421he0026aiv2200vgu11he0068guhhe00v12488800ehhehhe00ehhf12c000cc0cc0000cc0cc480248g8420000v0v0000842124800eh1240400eh1dlle00ehhvhhh00uhhuhhu00ehggghe00sihhhis00vgguggv00vgguggg00ehgnhhf00hhhvhhh00e44444e0072222ic00hikokih00ggggggv00hrllhhh00hhpljhh00ehhhhhe00uhhuggg00ehhhlid00uhhukih00fgge11u00v44444400hhhhhhe00hhhhha400hhhllla00hha4ahh00hha444400v1248gv00e88888e000g8421000e22222e004ah0000000000000v084200000000e1fhf00ggmphhu0000egghe0011djhhf0000ehvge00698s8880000fhhhf1eggmphhh0040c444e002062222icggikoki00c44444e0000qllll0000mphhh0000ehhhe0000uhhhugg00fhhhf1100mpggg0000fge1u0088s88960000hhhjd0000hhha40000hhlla0000ha4ah0000hhhhf1e00v248v00244844200444444400844244800008l20000';

/** The 9 row masks of a character's glyph (bit 4 = leftmost column). */
export function glyphRows(ch: string): ArrayLike<number> {
  let code = ch.codePointAt(0) ?? 63;
  if (code < FIRST || code > LAST) code = 63; // '?'
  const start = (code - FIRST) * GLYPH_HEIGHT;
  const rows = new Uint8Array(GLYPH_HEIGHT);
  for (let r = 0; r < GLYPH_HEIGHT; r++) rows[r] = B32.indexOf(DATA[start + r]!);
  return rows;
}

/** Width in pixels of a single line of text at a given integer scale (0 for ''). */
export function textWidth(text: string, scale = 1): number {
  const n = [...text].length;
  return n === 0 ? 0 : (n * ADVANCE - 1) * scale;
}

/** Height in pixels of one line of text (descenders included) at a given scale. */
export function textHeight(scale = 1): number {
  return GLYPH_HEIGHT * scale;
}

/**
 * Calls plot(x, y) for every set pixel of the text, in text coordinates at scale 1: x to the
 * right from the first glyph's left edge, y down from the top of the capitals.
 */
export function forEachTextPixel(text: string, plot: (x: number, y: number) => void): void {
  let x0 = 0;
  for (const ch of text) {
    const rows = glyphRows(ch);
    for (let r = 0; r < GLYPH_HEIGHT; r++) {
      const bits = rows[r]!;
      if (bits === 0) continue;
      for (let c = 0; c < GLYPH_WIDTH; c++) if (bits & (1 << (GLYPH_WIDTH - 1 - c))) plot(x0 + c, r);
    }
    x0 += ADVANCE;
  }
}
