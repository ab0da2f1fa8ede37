/**
 * Kafka TLS and SASL from the config (bus.ssl, bus.sasl) to the client's options: certificate files are
 * read and the password fetched from its environment variable or file here, at start, so a missing file or
 * variable is one clear line before anything connects (docs/kafka.md, "TLS and SASL").
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { KafkaTransportOptions } from '../transport/kafka.js';
import { UserError } from './errors.js';

/** Certificates and passwords are small; a bigger file is the wrong one. */
const MAX_SECRET_FILE_BYTES = 1 << 20;

function readSecretFile(file: string, what: string): string {
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UserError(`${what} ${file}: cannot read: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  if (text.length > MAX_SECRET_FILE_BYTES) throw new UserError(`${what} ${file}: more than 1 MiB, not a ${what}`);
  return text.toString('utf8');
}

export function kafkaSecurity(
  bus: Pick<Config['bus'], 'ssl' | 'sasl'>,
  env: NodeJS.ProcessEnv = process.env,
): Pick<KafkaTransportOptions, 'ssl' | 'sasl'> {
  const out: Pick<KafkaTransportOptions, 'ssl' | 'sasl'> = {};
  const t = bus.ssl;
  if (t === true) out.ssl = true;
  else if (t && typeof t === 'object') {
    out.ssl = {
      ...(t.caFile ? { ca: [readSecretFile(t.caFile, 'bus.ssl.caFile')] } : {}),
      ...(t.certFile ? { cert: readSecretFile(t.certFile, 'bus.ssl.certFile') } : {}),
      ...(t.keyFile ? { key: readSecretFile(t.keyFile, 'bus.ssl.keyFile') } : {}),
      ...(t.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: t.rejectUnauthorized }),
      ...(t.servername ? { servername: t.servername } : {}),
    };
  }
  const s = bus.sasl;
  if (s) {
    let password: string;
    if (s.passwordEnv !== undefined) {
      const v = env[s.passwordEnv];
      if (v === undefined || v === '')
        throw new UserError(`bus.sasl.passwordEnv: environment variable ${s.passwordEnv} is not set`);
      password = v;
    } else password = readSecretFile(s.passwordFile!, 'bus.sasl.passwordFile').replace(/\r?\n$/, '');
    out.sasl = { mechanism: s.mechanism, username: s.username, password } as KafkaTransportOptions['sasl'];
  }
  return out;
}
