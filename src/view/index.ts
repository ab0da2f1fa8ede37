/** The live terminal view: state shape, pure renderers, and the redraw loop. */
export type { FeedView, ViewState } from './state.js';
export { emptyViewState } from './state.js';
export { renderView, renderStatusLine, formatMicros, LADDER_DEPTH, type RenderOptions } from './render.js';
export { startView, type ViewOptions } from './run.js';
