/**
 * Original and reconstruction: side by side, and stacked under a slider that wipes from one to the
 * other. Both fill the reconstruction's aspect with a centred cover crop, which is how the engine
 * fitted the original to the model's resolution, so the pixels line up.
 */
import { el } from './dom.ts';

export function comparison(name: string, originalUrl: string, reconstructionUrl: string): HTMLElement {
  const image = (src: string, alt: string, className: string): HTMLImageElement => el('img', { src, alt, class: className, decoding: 'async' });
  const sideBySide = el(
    'div',
    { class: 'side-by-side' },
    el('figure', {}, image(originalUrl, `Original: ${name}`, 'original'), el('figcaption', {}, 'Original')),
    el('figure', {}, image(reconstructionUrl, `Reconstruction of ${name} from its latent`, 'reconstruction'), el('figcaption', {}, 'Reconstruction')),
  );
  const top = image(reconstructionUrl, '', 'reconstruction');
  const stack = el('div', { class: 'wipe', 'aria-hidden': 'true' }, image(originalUrl, '', 'original'), top);
  const slider = el('input', { type: 'range', min: 0, max: 100, value: 50, step: 1, class: 'wipe-slider', 'aria-label': `Wipe between original (left) and reconstruction (right) of ${name}` });
  // CSSOM writes are allowed under style-src 'self'; style attributes in markup would not be.
  const place = (): void => void (top.style.clipPath = `inset(0 0 0 ${slider.value}%)`);
  slider.addEventListener('input', place);
  place();
  const hint = el('p', { class: 'wipe-hint' }, 'Slide to wipe: original on the left, reconstruction on the right.');
  const section = el('section', { class: 'comparison', 'aria-label': `Original and reconstruction of ${name}` }, sideBySide, el('div', { class: 'wipe-control' }, stack, slider, hint));
  top.addEventListener('load', () => {
    if (!top.naturalWidth || !top.naturalHeight) return;
    for (const img of section.querySelectorAll('img')) img.style.aspectRatio = `${top.naturalWidth} / ${top.naturalHeight}`;
  });
  return section;
}
