/** The live terminal view: state shape, pure renderers, and the redraw loop. */
export type { FeedView, OverviewState, RestView, ViewState } from './state.js';
export { emptyViewState } from './state.js';
export {
  renderView,
  renderStatusLine,
  renderOverview,
  renderOverviewLine,
  formatMicros,
  LADDER_DEPTH,
  type RenderOptions,
} from './render.js';
export { startView, startOverview, type ViewOptions } from './run.js';
