/**
 * Hands a finished report to every output the user asked for: the JSON document or the
 * human text on stdout, then the JUnit file, GitHub annotations, and the Prometheus textfile.
 */
import type { Report } from '../types.js';
import type { Settings } from '../settings.js';
import { writeJunit } from './junit.js';
import { emitGithub } from './github.js';
import { DoctorError, errorMessage } from '../errors.js';
import { EXIT } from '../types.js';

export async function emitReport(report: Report, settings: Settings, renderHuman: (report: Report) => string[]): Promise<number> {
  if (settings.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(renderHuman(report).join('\n') + '\n');
  try {
    if (settings.junit) await writeJunit(settings.junit, report, settings.strict);
    if (settings.promFile) {
      const { writePromFile } = await import('./promfile.js');
      await writePromFile(settings.promFile, report);
    }
    await emitGithub(report, settings.json);
  } catch (error) {
    throw new DoctorError(`could not write a report file: ${errorMessage(error)}`, EXIT.usage, 'check that the folder of --junit / --prom-file exists and is writable');
  }
  return report.exitCode;
}
