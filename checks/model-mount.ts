/**
 * model.mount: with the mount as given, will the server find the model at exactly the
 * container model dir? Linux compares paths byte for byte, so a folder that differs only in
 * letter case, or a mount one level off, leaves the server with "no such file or directory".
 */
import type { Judgement } from '../src/judge.js';
import { CONFIG_FILE } from '../src/data/model-files.js';
import type { ModelFolderFacts } from '../src/facts.js';
import { plural, shellQuote } from '../src/report/format.js';
import type { Settings } from '../src/settings.js';
import { defineModelFolderCheck } from './model-folder.js';

export const modelMount = defineModelFolderCheck({
  id: 'model.mount',
  title: 'Model folder as the container sees it',
  judge: (model, settings) => judgeMount(model, settings),
});

function judgeMount(m: ModelFolderFacts, settings: Settings): Judgement {
  const { mount, containerModelDir } = m;
  const measured: Record<string, unknown> = {
    mount: mount.raw,
    hostPath: mount.hostPath,
    containerPath: mount.containerPath,
    containerModelDir,
    hostModelDir: m.hostModelDir,
  };
  const fail = (summary: string, fix: string, details: string[] = []): Judgement => ({
    status: 'fail',
    summary,
    fix,
    measured: { ...measured, suggestedMount: m.suggestedMount, suggestedContainerModelDir: m.suggestedContainerModelDir },
    details,
  });
  const useMount = (suggested: string) => `-v ${shellQuote(suggested)} (guard-doctor: --mount ${shellQuote(suggested)})`;
  const orContainerDir = m.suggestedContainerModelDir ? `, or tell the server to read --container-model-dir ${shellQuote(m.suggestedContainerModelDir)}` : '';

  if (m.hostPathState !== 'folder') {
    const what = m.hostPathState === 'not-a-folder' ? 'is a file, not a folder' : m.hostPathState === 'missing' ? 'does not exist' : 'cannot be read';
    return fail(
      `the mount's host folder ${mount.hostPath} ${what}`,
      m.hostPathState === 'unreadable'
        ? `make it readable (chmod a+rX ${shellQuote(mount.hostPath)}), or mount another folder`
        : `correct the host part of the mount: the folder that holds ${CONFIG_FILE} and the *.safetensors files, e.g. -v /path/to/${settings.model.name}:${containerModelDir}`,
      m.hostPathMessage ? [m.hostPathMessage] : [],
    );
  }

  if (m.caseMismatch?.side === 'container') {
    const { expected, found } = m.caseMismatch;
    return fail(
      `the mount puts the folder at ${found}, but the server reads ${containerModelDir}: "${found}" and "${expected}" differ only in letter case, and paths in the container are case-sensitive`,
      m.suggestedMount ? `mount it at ${expected}: ${useMount(m.suggestedMount)}${orContainerDir}` : `mount it at ${expected}${orContainerDir}`,
    );
  }

  if (m.relativeDir === null) {
    const hint = m.suggestedMount
      ? `mount the model folder there: ${useMount(m.suggestedMount)}${orContainerDir}`
      : `mount the folder that holds ${CONFIG_FILE} at ${containerModelDir}, e.g. -v /path/to/${settings.model.name}:${containerModelDir}`;
    return fail(`the mount puts ${mount.hostPath} at ${mount.containerPath}, which does not cover ${containerModelDir} (the folder the server reads)`, hint, found(m));
  }

  if (m.caseMismatch?.side === 'host' && !m.hostModelDirExists) {
    const { expected, found: onDisk, parentHostPath } = m.caseMismatch;
    const from = parentHostPath ? `${parentHostPath}/${onDisk}` : onDisk;
    const to = parentHostPath ? `${parentHostPath}/${expected}` : expected;
    return fail(
      `${containerModelDir} maps to ${m.hostModelDir}, which does not exist: on disk the folder is spelled "${onDisk}", the server expects "${expected}" (paths are case-sensitive)`,
      `rename it: mv ${shellQuote(from)} ${shellQuote(to)}${orContainerDir}`,
      found(m),
    );
  }

  if (m.tooShallow) {
    return fail(
      `the model's files are at the mount's root (${mount.hostPath} -> ${mount.containerPath}), but the server reads ${containerModelDir}, one level below: the mount is one level too shallow`,
      `mount the model folder at the folder the server reads: ${useMount(m.suggestedMount!)}${orContainerDir}`,
    );
  }

  if (m.tooDeepSubfolder) {
    return fail(
      `${containerModelDir} maps to ${m.hostModelDir}, which holds no ${CONFIG_FILE}; the model is one level down, in ${m.tooDeepSubfolder}/`,
      `mount the subfolder: ${useMount(m.suggestedMount!)}${orContainerDir}`,
    );
  }

  if (!m.hostModelDirExists) {
    const others = m.modelSubfolders.length > 0 ? `; the mount holds ${plural(m.modelSubfolders.length, 'model folder')}: ${m.modelSubfolders.join(', ')}` : '';
    return fail(
      `${containerModelDir} maps to ${m.hostModelDir}, which does not exist${m.missingHostPath && m.missingHostPath !== m.hostModelDir ? ` (${m.missingHostPath} is missing)` : ''}${others}`,
      m.modelSubfolders.length > 0
        ? `pick the right one with --model or --container-model-dir, or mount it: -v /path/to/${settings.model.name}:${containerModelDir}`
        : `put ${settings.model.name} there, or mount the folder that holds it: -v /path/to/${settings.model.name}:${containerModelDir}`,
    );
  }

  const hasConfig = m.files.some((f) => f.path === CONFIG_FILE && f.type === 'file');
  const hasWeights = m.shards.some((s) => s.present);
  if (!hasConfig && !hasWeights) {
    const others = m.modelSubfolders.length > 1 ? ` (subfolders with a model: ${m.modelSubfolders.join(', ')})` : '';
    return fail(
      `${containerModelDir} maps to ${m.hostModelDir}, which exists but holds no ${CONFIG_FILE} and no *.safetensors${others}`,
      `download the model into it (huggingface-cli download Qwen/${settings.model.name} --local-dir ${shellQuote(m.hostModelDir!)}) or mount the folder that holds it`,
    );
  }

  const escaping = m.files.filter((f) => f.linkEscapesMount && !f.path.startsWith('.'));
  const dangling = m.files.filter((f) => f.type === 'broken-link' && !f.path.startsWith('.'));
  if (escaping.length > 0 || dangling.length > 0) {
    const bad = [...dangling, ...escaping];
    return fail(
      `${plural(bad.length, 'file')} in ${m.hostModelDir} ${bad.length === 1 ? 'is a link' : 'are links'} to outside the mount${dangling.length ? ' or to nothing' : ''} (e.g. ${bad[0]!.path} -> ${bad[0]!.linkTarget ?? '?'}): inside the container ${bad.length === 1 ? 'it dangles' : 'they dangle'}`,
      `copy the real files into one folder (huggingface-cli download Qwen/${settings.model.name} --local-dir DIR) and mount that, or also mount the folder the links point into`,
      bad.slice(0, 10).map((f) => `${f.path} -> ${f.linkTarget ?? '?'}`),
    );
  }

  const shards = m.shards.filter((s) => s.present).length;
  return {
    status: 'pass',
    summary: `${containerModelDir} -> ${m.hostModelDir} (exact case; ${hasConfig ? CONFIG_FILE : `no ${CONFIG_FILE}`} and ${plural(shards, 'weight file')} there)`,
    measured,
  };
}

/** Names the folder where the model was found instead, for the details lines. */
function found(m: ModelFolderFacts): string[] {
  return m.inspectedDir && m.inspectedRole !== 'model-dir' ? [`the model's files were found in ${m.inspectedDir}`] : [];
}
