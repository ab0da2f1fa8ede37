/** `bookwire keygen`: a ZeroMQ CURVE key pair as NAME.key (secret, 0600) and NAME.pub (docs/security.md). */
import type { Command } from 'commander';
import path from 'node:path';
import { KeyFileError, generateKeyPair, writeKeyPair } from '../transport/keys.js';
import { UserError } from './errors.js';

export function registerKeygenCommand(program: Command): void {
  program
    .command('keygen')
    .description('write a ZeroMQ CURVE key pair: NAME.key (secret, mode 0600) and NAME.pub (give it to the servers)')
    .requiredOption('--name <name>', 'whose key: a collector id, an arbiter, a client (letters, digits, _ or -)')
    .option('--out <dir>', 'directory to write into (created if missing)', '.')
    .option('--force', 'replace existing NAME.key / NAME.pub')
    .action(async (o: { name: string; out: string; force?: boolean }) => {
      try {
        const files = writeKeyPair(path.resolve(o.out), o.name, await generateKeyPair(), o.force === true);
        process.stdout.write(`wrote ${files.keyFile} (secret: keep it on this host) and ${files.pubFile}\n`);
      } catch (e) {
        if (e instanceof KeyFileError) throw new UserError(e.message);
        throw e;
      }
    });
}
