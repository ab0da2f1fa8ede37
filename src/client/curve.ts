/** The SDK's `curve` option read into the ZeroMQ transport's settings (keys read now: a bad file throws here). */
import { clientCurveSettings, type ClientCurveOptions, type CurveSettings } from '../transport/keys.js';

export function clientCurve(o: ClientCurveOptions | undefined): { curve?: CurveSettings } {
  return o === undefined ? {} : { curve: clientCurveSettings(o) };
}
