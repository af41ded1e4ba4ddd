/**
 * Text for an HTML or SVG page, as element content or inside a double-quoted
 * attribute: the four characters that could end either are written as entities.
 */
export function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
