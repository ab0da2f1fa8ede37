/** Recording and replay: the data store for backtests (docs/recording.md). */
export {
  Recorder,
  RecorderError,
  checkRecordingDir,
  type RecorderOptions,
  type RecorderCounters,
  type RecorderSink,
} from './recorder.js';
export { PostgresSink, PostgresSinkError, type PostgresSinkOptions, type PostgresSinkCounters } from './postgres.js';
export {
  replay,
  replaySync,
  replayBook,
  toMicros,
  type ReplayBookStep,
  type ReplayBookOptions,
  type ReplayOptions,
  type ReplayItem,
  type ReplaySpeed,
  type Instant,
} from './replay.js';
export {
  bookAt,
  readRecords,
  recordedRange,
  snapshotBefore,
  StoredRecord,
  type BookAt,
  type ReadOptions,
} from './reader.js';
export { SkipLog, describeSkip, type Skipped, type OnWarning } from './skips.js';
export {
  DEFAULT_STORAGE,
  StreamWriter,
  listBooks,
  listSegments,
  recoverDir,
  recoverSegment,
  scanSegment,
  streamDir,
  type FsyncPolicy,
  type StorageOptions,
  type RecoveryResult,
} from './segment.js';
export {
  decodeBlock,
  FormatError,
  UnsupportedVersionError,
  SEGMENT_VERSION,
  type Codec,
  type Stream,
  type GapMarker,
  type Rec,
} from './format.js';
export { exportParquet, type ExportOptions, type ExportResult } from './export.js';
