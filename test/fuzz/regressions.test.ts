/**
 * Problems the fuzzers found in code outside policy/hcl (where fixes land with their
 * regression tests in test/unit/hcl), kept here as regressions. Each names the property
 * that found it.
 */
import assert from 'node:assert/strict';
import { formatPolicyText } from '../../policy/format';
import { parseHcl, toPlain } from '../../policy/hcl';
import { FailureRateLimiter } from '../../proxy/wire/auth/rateLimiter';

describe('fuzz regressions', () => {
  describe('the formatter (found by "generated policy files vs hcl2-parser" and "mutated generated documents")', () => {
    const formatsSafely = (text: string): string => {
      const out = formatPolicyText(text);
      assert.ok(out !== undefined, 'valid HCL is formatted');
      assert.deepEqual(parseHcl(out).diagnostics.map((d) => d.summary), [], `formatting made invalid HCL: ${JSON.stringify(out)}`);
      assert.deepEqual(toPlain(parseHcl(out).body), toPlain(parseHcl(text).body), `formatting changed a value: ${JSON.stringify(out)}`);
      assert.equal(formatPolicyText(out), out, 'formatting twice changes nothing more');
      return out;
    };

    it('leaves a comment between an argument name and its `=` alone instead of writing a second `=`', () => {
      // Was: `engine =  /* c */ = "postgres"`.
      formatsSafely('policy "a" {\n  engine /* c */ = "postgres"\n  plugin_config_entry = "a"\n}\n');
      formatsSafely('é /* c */ = [\n]\n');
      const out = formatsSafely('ab = 1\nc /* x */ = 2\nd = 3\n');
      assert.match(out, /^c \/\* x \*\/ = 2$/m);
    });

    it('keeps the blank lines inside a heredoc (they are part of its value)', () => {
      // Was: three newlines in the heredoc collapsed to two, changing the string.
      const out = formatsSafely('policy "a" {\n  plugin_config_entry = <<EOT\n\n\nEOT\n  engine = "postgres"\n}\n');
      assert.match(out, /<<EOT\n\n\nEOT/);
      // Runs of blank lines between blocks still collapse to one.
      assert.equal(formatPolicyText('a = 1\n\n\n\nb = 2\n'), 'a = 1\n\nb = 2\n');
    });

    it('keeps the line breaks inside a heredoc when the file mixes CRLF and LF', () => {
      // Was: one CRLF anywhere made every line break CRLF, the heredoc's too, changing its value.
      const out = formatsSafely('\r\nx = <<EOT\nq\n\nEOT\n');
      assert.match(out, /<<EOT\nq\n\nEOT/);
      // Outside heredocs the file's style still wins.
      assert.equal(formatPolicyText('a = 1\r\nb  = 2\n'), 'a = 1\r\nb = 2\r\n');
    });
  });

  describe('the failure rate limiter (found while fuzzing the proxy with a source address per attempt)', () => {
    it('costs O(1) per failure, not a scan of every bucket, once it holds more than 10,000 buckets', () => {
      // User names are the client's choice, so anyone can fill the limiter with buckets; each
      // failed login then scanned them all (3 ms per failure at 12,000 buckets).
      let clockReads = 0;
      const limiter = new FailureRateLimiter(10, 1 / 6, () => {
        clockReads++;
        return 0;
      });
      for (let i = 0; i < 10_001; i++) limiter.recordFailure(`user-${i}|127.0.0.1`);
      clockReads = 0;
      for (let i = 0; i < 2_000; i++) limiter.recordFailure(`other-${i}|127.0.0.1`);
      assert.ok(clockReads < 100_000, `${clockReads} clock reads (bucket refills) for 2,000 failures`);
      // And it still limits: ten failures, then no more attempts.
      for (let i = 0; i < 10; i++) limiter.recordFailure('mallory|10.0.0.1');
      assert.equal(limiter.allowed('mallory|10.0.0.1'), false);
      assert.equal(limiter.allowed('someone-else|10.0.0.1'), true);
    });
  });
});
