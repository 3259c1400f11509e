/**
 * model.permissions: the serving process may run as another user than the files' owner
 * (vLLM images run as root, others as an unprivileged uid, rootless Docker maps uids), so
 * every file must be readable and every folder readable and searchable by "others". Judged
 * from the mode bits, not by trying to open: the doctor itself may run as root.
 */
import type { Judgement } from '../src/judge.js';
import type { ModelFolderFacts } from '../src/facts.js';
import { plural, shellQuote } from '../src/report/format.js';
import { defineModelFolderCheck } from './model-folder.js';

/** How many offending paths the summary names before it just counts. */
const NAMED_OFFENDERS = 3;

interface Offender {
  path: string;
  mode: number;
  uid: number;
  /** What "others" lack: read for files, read and search for the model's folders, search for those above it. */
  needs: 'r' | 'rx' | 'x';
}

export const modelPermissions = defineModelFolderCheck({
  id: 'model.permissions',
  title: 'Model files readable by the container',
  judge(model): Judgement {
    if (!model.inspectedDir) return { status: 'skip', summary: 'no model folder to check under the mount (see model.mount)' };
    return judgePermissions(model);
  },
});

function judgePermissions(m: ModelFolderFacts): Judgement {
  const dir = m.inspectedDir!;
  const offenders: Offender[] = [];
  // Folders above the model's only need to be passed through (x); the model's own need listing too.
  for (const folder of m.pathFolders) {
    const own = folder.hostPath === dir;
    const ok = own ? (folder.mode & 0o005) === 0o005 : (folder.mode & 0o001) !== 0;
    if (!ok) offenders.push({ path: folder.hostPath, mode: folder.mode, uid: folder.uid, needs: own ? 'rx' : 'x' });
  }
  // The server never reads hidden tooling folders (.git, .cache), and a dangling link has no mode to judge.
  const entries = m.files.filter((f) => !f.path.split('/').some((part) => part.startsWith('.')) && f.type !== 'broken-link');
  for (const entry of entries) {
    if (!entry.readableByOthers && (entry.type === 'file' || entry.type === 'folder')) {
      offenders.push({ path: `${dir}/${entry.path}`, mode: entry.mode, uid: entry.uid, needs: entry.type === 'folder' ? 'rx' : 'r' });
    }
  }
  const fileCount = entries.filter((f) => f.type === 'file').length;
  const folderCount = entries.filter((f) => f.type === 'folder').length + m.pathFolders.length;
  const measured = { folder: dir, files: fileCount, folders: folderCount, offenders: offenders.length, offendingPaths: offenders.slice(0, 20).map((o) => o.path) };

  if (offenders.length === 0) {
    return { status: 'pass', summary: `all ${plural(fileCount, 'file')} and ${plural(folderCount, 'folder')} are readable by any user`, measured };
  }
  // A folder above the model's that blocks the way needs the fix from the mount root down.
  const fixRoot = offenders.some((o) => o.needs === 'x') ? m.mount.hostPath : dir;
  const named = offenders.slice(0, NAMED_OFFENDERS).map(describe).join(', ');
  const more = offenders.length > NAMED_OFFENDERS ? ` and ${offenders.length - NAMED_OFFENDERS} more` : '';
  return {
    status: 'fail',
    summary: `${plural(offenders.length, 'path')} ${offenders.length === 1 ? 'is' : 'are'} not readable by other users, and the container may not run as the owner: ${named}${more}`,
    fix: `chmod -R a+rX ${shellQuote(fixRoot)}`,
    measured,
    details: offenders.length > NAMED_OFFENDERS ? offenders.slice(NAMED_OFFENDERS, 20).map(describe) : undefined,
  };
}

function describe(o: Offender): string {
  const lacks = o.needs === 'r' ? 'no read for others' : o.needs === 'x' ? 'others cannot pass through' : 'others cannot list it';
  return `${o.path} (mode ${o.mode.toString(8).padStart(4, '0')}, owner uid ${o.uid}, ${lacks})`;
}
