/**
 * What model.mount, model.files and model.permissions share: they judge the model folder's
 * facts, skip without a folder to judge (no --model-dir/--mount, or a hub model not yet in the
 * cache, or only partly there), and otherwise judge the folder with their own rule.
 */
import { defineCheck, type Check, type Judgement } from '../src/judge.js';
import type { ModelFolderFacts } from '../src/facts.js';
import type { Settings } from '../src/settings.js';
import { hubSnapshotSkip } from './model-source.js';

export const NO_MOUNT_REASON = 'give --model-dir or --mount to check the model files';

export function defineModelFolderCheck(spec: { id: string; title: string; judge(model: ModelFolderFacts, settings: Settings): Judgement }): Check<'model'> {
  return defineCheck({
    id: spec.id,
    title: spec.title,
    needs: ['model'],
    skip: (settings) => (settings.mount || settings.hub ? null : NO_MOUNT_REASON),
    judge({ model }, settings): Judgement {
      const hubSkip = hubSnapshotSkip(model, settings);
      if (hubSkip) return hubSkip;
      if (!model) return { status: 'skip', summary: NO_MOUNT_REASON };
      return spec.judge(model, settings);
    },
  });
}
