/**
 * Kafka TLS and SASL plumbing: config and flags validated, files and the password resolved at start into the
 * client's options, clear errors. (The Kafka-protocol test broker speaks neither TLS nor SASL, so what reaches
 * the brokers is not exercised here: docs/kafka.md, "TLS and SASL".)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { ConfigError, deepMerge, validateConfig } from '../../src/config/load.js';
import { addBusOptions, overridesFrom } from '../../src/cli/options.js';
import { kafkaSecurity } from '../../src/cli/kafka-security.js';
import { UserError } from '../../src/cli/errors.js';

const problems = (input: unknown): string => {
  try {
    validateConfig(input);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems.join('\n');
  }
  assert.fail('expected a ConfigError');
};

test('bus.ssl and bus.sasl are checked: mechanism, one password source, certificate with its key, no unknown keys', () => {
  assert.match(
    problems({ bus: { sasl: { mechanism: 'gssapi', username: 'u', passwordEnv: 'P' } } }),
    /bus\.sasl\.mechanism: expected one of plain, scram-sha-256, scram-sha-512/,
  );
  assert.match(
    problems({ bus: { sasl: { mechanism: 'plain', username: 'u' } } }),
    /exactly one of passwordEnv and passwordFile/,
  );
  assert.match(
    problems({ bus: { sasl: { mechanism: 'plain', username: 'u', password: 'in-the-file' } } }),
    /password/,
    'a password written in the config is refused',
  );
  assert.match(problems({ bus: { ssl: { certFile: 'c.pem' } } }), /certFile and keyFile go together/);
  assert.match(problems({ bus: { ssl: { ca: '-----BEGIN' } } }), /bus\.ssl/);
  const ok = validateConfig({
    bus: { ssl: { caFile: 'ca.pem' }, sasl: { mechanism: 'scram-sha-512', username: 'u', passwordFile: 'pw' } },
  });
  assert.deepEqual(ok.bus.ssl, { caFile: 'ca.pem' });
});

test('flags: --kafka-ca, --kafka-sasl, --kafka-user, --kafka-password-env set bus.ssl and bus.sasl', () => {
  const o = new Command();
  addBusOptions(o).parse(
    ['--kafka-ca', 'ca.pem', '--kafka-sasl', 'scram-sha-256', '--kafka-user', 'bw', '--kafka-password-env', 'BW_PW'],
    { from: 'user' },
  );
  const c = validateConfig(deepMerge({}, overridesFrom(o.opts())));
  assert.deepEqual(c.bus.ssl, { caFile: 'ca.pem' });
  assert.deepEqual(c.bus.sasl, { mechanism: 'scram-sha-256', username: 'bw', passwordEnv: 'BW_PW' });
  const t = new Command();
  addBusOptions(t).parse(['--kafka-tls'], { from: 'user' });
  assert.equal(validateConfig(deepMerge({}, overridesFrom(t.opts()))).bus.ssl, true);
});

test('kafkaSecurity reads the PEM files and the password at start; a missing file or variable is one clear line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bookwire-kafka-sec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const pw = join(dir, 'pw');
  writeFileSync(pw, 's3cret\n');
  const got = kafkaSecurity({
    ssl: { caFile: ca, rejectUnauthorized: true },
    sasl: { mechanism: 'scram-sha-256', username: 'bw', passwordFile: pw },
  });
  assert.deepEqual(got.ssl, {
    ca: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'],
    rejectUnauthorized: true,
  });
  assert.deepEqual(got.sasl, { mechanism: 'scram-sha-256', username: 'bw', password: 's3cret' });
  assert.deepEqual(
    kafkaSecurity({ sasl: { mechanism: 'plain', username: 'u', passwordEnv: 'BW_PW' } }, { BW_PW: 'x' }).sasl,
    { mechanism: 'plain', username: 'u', password: 'x' },
  );
  assert.throws(
    () => kafkaSecurity({ sasl: { mechanism: 'plain', username: 'u', passwordEnv: 'BW_NOPE' } }, {}),
    (e: unknown) => e instanceof UserError && /environment variable BW_NOPE is not set/.test(e.message),
  );
  assert.throws(
    () => kafkaSecurity({ ssl: { caFile: join(dir, 'missing.pem') } }),
    (e: unknown) =>
      e instanceof UserError && /bus\.ssl\.caFile .*missing\.pem: cannot read: no such file/.test(e.message),
  );
  assert.deepEqual(kafkaSecurity({}), {});
});
