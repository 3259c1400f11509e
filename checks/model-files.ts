/**
 * model.files: is the model complete and the one asked for? config.json and the tokenizer
 * present, every shard of the index present and really downloaded (not a Git LFS pointer),
 * the shards' tensor bytes adding up to the index's total_size exactly, and a config that
 * looks like the Qwen3 causal LM of the size named by --model.
 */
import type { Judgement } from '../src/judge.js';
import {
  BPE_VOCAB_FILES,
  CONFIG_FILE,
  FAST_TOKENIZER_FILE,
  QWEN3_CAUSAL_LM,
  SAFETENSORS_INDEX_FILE,
  TOKENIZER_CONFIG_FILE,
} from '../src/data/model-files.js';
import { MODELS, type ModelSpec } from '../src/data/models.js';
import type { ModelFolderFacts } from '../src/facts.js';
import { plural, shellQuote } from '../src/report/format.js';
import type { Settings } from '../src/settings.js';
import { defineModelFolderCheck } from './model-folder.js';
import { redownloadFix } from './model-source.js';

interface Problem {
  severity: 'fail' | 'warn';
  summary: string;
  fix: string;
}

export const modelFiles = defineModelFolderCheck({
  id: 'model.files',
  title: 'Model files complete',
  judge(model, settings): Judgement {
    if (!model.inspectedDir) {
      return { status: 'skip', summary: `could not check the model files: no folder with the model was found under the mount (see model.mount)` };
    }
    const judgement = judgeFiles(model, settings);
    // A damaged cache entry is fixed by fetching it afresh, not by git lfs or --local-dir.
    return settings.hub && judgement.status !== 'pass' ? { ...judgement, fix: redownloadFix(model, settings) } : judgement;
  },
});

function judgeFiles(m: ModelFolderFacts, settings: Settings): Judgement {
  const dir = m.inspectedDir!;
  const download = `huggingface-cli download Qwen/${settings.model.name} --local-dir ${shellQuote(dir)}`;
  const problems: Problem[] = [];
  const top = new Map(m.files.filter((f) => !f.path.includes('/')).map((f) => [f.path, f]));

  const lfsPointers = m.files.filter((f) => f.lfsPointer).map((f) => f.path);
  if (lfsPointers.length > 0) {
    problems.push({
      severity: 'fail',
      summary: `${plural(lfsPointers.length, 'file')} ${lfsPointers.length === 1 ? 'is a Git LFS pointer' : 'are Git LFS pointers'}, not the real data (${list(lfsPointers)}): the weights were never downloaded`,
      fix: `fetch the real files: git lfs pull (in ${shellQuote(dir)}), or ${download}`,
    });
  }

  if (m.configProblem && !top.get(CONFIG_FILE)?.lfsPointer) {
    problems.push({ severity: 'fail', summary: m.configProblem, fix: `download ${CONFIG_FILE} again: ${download}` });
  } else if (!top.has(CONFIG_FILE)) {
    problems.push({ severity: 'fail', summary: `${CONFIG_FILE} is missing`, fix: `download the whole model: ${download}` });
  }

  const missingTokenizer: string[] = [];
  if (!m.tokenizer.tokenizerConfig) missingTokenizer.push(TOKENIZER_CONFIG_FILE);
  if (!m.tokenizer.tokenizerJson && !m.tokenizer.vocabAndMerges) missingTokenizer.push(`${FAST_TOKENIZER_FILE} (or ${BPE_VOCAB_FILES.join(' + ')})`);
  if (missingTokenizer.length > 0) {
    problems.push({ severity: 'fail', summary: `tokenizer files missing: ${missingTokenizer.join(', ')}`, fix: `download the whole model: ${download}` });
  }

  if (m.indexProblem) problems.push({ severity: 'fail', summary: m.indexProblem, fix: `download ${SAFETENSORS_INDEX_FILE} again: ${download}` });

  const missingShards = m.shards.filter((s) => !s.present).map((s) => s.name);
  if (missingShards.length > 0) {
    problems.push({
      severity: 'fail',
      summary: `${plural(missingShards.length, 'shard')} named in ${SAFETENSORS_INDEX_FILE} ${missingShards.length === 1 ? 'is' : 'are'} missing: ${list(missingShards)}`,
      fix: `download the missing shards: ${download}`,
    });
  }

  for (const shard of m.shards) {
    if (shard.problem) {
      problems.push({ severity: 'fail', summary: `${shard.name}: ${shard.problem}`, fix: `download it again: ${download}` });
    } else if (shard.dataBytes !== null && shard.declaredDataBytes !== null && shard.declaredDataBytes > shard.dataBytes) {
      problems.push({
        severity: 'fail',
        summary: `${shard.name} is cut off: its header lists ${shard.declaredDataBytes} bytes of tensors but the file holds ${shard.dataBytes}`,
        fix: `download it again: ${download}`,
      });
    }
  }

  const readable = m.shards.filter((s) => s.present && !s.lfsPointer && s.dataBytes !== null);
  const tensorBytes = readable.reduce((sum, s) => sum + s.dataBytes!, 0);
  const totalSize = m.index?.totalSize ?? null;
  const allShardsReadable = m.shards.length > 0 && readable.length === m.shards.length;
  if (totalSize !== null && allShardsReadable && tensorBytes !== totalSize) {
    problems.push({
      severity: 'fail',
      summary: `the shards hold ${tensorBytes} bytes of tensors, but ${SAFETENSORS_INDEX_FILE} says total_size ${totalSize} (${signed(tensorBytes - totalSize)} bytes): the shards do not belong to this index or a download is incomplete`,
      fix: `download the model again: ${download}`,
    });
  }

  if (m.shards.length === 0 && !m.index && !m.indexProblem) {
    problems.push(
      m.pytorchWeightFiles.length > 0
        ? { severity: 'warn', summary: `weights are PyTorch .bin files (${list(m.pytorchWeightFiles)}), which the doctor cannot verify`, fix: `use the published safetensors weights: ${download}` }
        : { severity: 'fail', summary: 'no weights: no *.safetensors file and no model.safetensors.index.json', fix: `download the whole model: ${download}` },
    );
  }

  const arch = describeConfig(m.configJson);
  if (m.configJson) {
    if (!arch.architectures.includes(QWEN3_CAUSAL_LM.architecture) || (arch.modelType !== null && arch.modelType !== QWEN3_CAUSAL_LM.modelType)) {
      problems.push({
        severity: 'warn',
        summary: `${CONFIG_FILE} describes ${arch.architectures.join(', ') || 'no architecture'} (model_type ${arch.modelType ?? 'missing'}), not ${QWEN3_CAUSAL_LM.architecture} (${QWEN3_CAUSAL_LM.modelType}) as Qwen3Guard-Gen is served`,
        fix: `point the mount at a Qwen3Guard-Gen model (${download})`,
      });
    }
    const lookalike = matchingSize(arch);
    if (lookalike && lookalike.name !== settings.model.name) {
      problems.push({
        severity: 'warn',
        summary: `the folder looks like ${lookalike.name} (${arch.layers} layers, hidden size ${arch.hiddenSize}), not ${settings.model.name} as --model says`,
        fix: `say --model ${lookalike.name}, or mount the ${settings.model.name} folder`,
      });
    } else if (!lookalike && arch.layers !== null) {
      problems.push({
        severity: 'warn',
        summary: `${arch.layers} layers and hidden size ${arch.hiddenSize ?? '?'} match no Qwen3Guard-Gen size (${settings.model.name} has ${settings.model.layers} layers, hidden size ${settings.model.hiddenSize})`,
        fix: `mount the ${settings.model.name} folder (${download})`,
      });
    }
  }

  const where = m.inspectedRole === 'model-dir' ? '' : `in ${dir} (where the model was found; see model.mount): `;
  const measured: Record<string, unknown> = {
    folder: dir,
    shards: m.shards.length,
    shardsPresent: m.shards.filter((s) => s.present).length,
    lfsPointers: lfsPointers.length,
    totalSize,
    tensorBytes: readable.length > 0 ? tensorBytes : null,
    weightBytes: m.weightBytes,
    architectures: arch.architectures,
    layers: arch.layers,
    hiddenSize: arch.hiddenSize,
    looksLike: matchingSize(arch)?.name ?? null,
  };
  const failed = problems.find((p) => p.severity === 'fail');
  const first = failed ?? problems[0];
  // The summary carries the worst problem; the others are information lines (-v).
  const details = problems.filter((p) => p !== first).map((p) => `also ${p.severity === 'fail' ? 'failing' : 'warning'}: ${p.summary} (fix: ${p.fix})`);
  if (m.listingTruncated) details.push('the folder has very many entries; only the first ones were read');
  if (first) {
    const more = problems.length > 1 ? ` (and ${plural(problems.length - 1, 'more problem')}; -v lists ${problems.length > 2 ? 'them' : 'it'})` : '';
    return { status: failed ? 'fail' : 'warn', summary: `${where}${first.summary}${more}`, fix: first.fix, measured, details };
  }

  const shardWord = m.shards.length === 1 ? m.shards[0]!.name : `${m.shards.length} of ${m.shards.length} shards`;
  const sizes = totalSize !== null ? `; ${tensorBytes} bytes of tensors = total_size` : '';
  const looks = measured.looksLike ? `; ${arch.layers} layers, hidden size ${arch.hiddenSize} (${measured.looksLike as string})` : '';
  return { status: 'pass', summary: `${where}${CONFIG_FILE}, tokenizer and ${shardWord} present${sizes}${looks}`, measured, details };
}

interface ConfigFigures {
  architectures: string[];
  modelType: string | null;
  layers: number | null;
  hiddenSize: number | null;
  kvHeads: number | null;
}

function describeConfig(config: Record<string, unknown> | null): ConfigFigures {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const architectures = Array.isArray(config?.architectures) ? config.architectures.filter((a): a is string => typeof a === 'string') : [];
  return {
    architectures,
    modelType: typeof config?.model_type === 'string' ? config.model_type : null,
    layers: num(config?.num_hidden_layers),
    hiddenSize: num(config?.hidden_size),
    kvHeads: num(config?.num_key_value_heads),
  };
}

function matchingSize(arch: ConfigFigures): ModelSpec | undefined {
  return MODELS.find((spec) => spec.layers === arch.layers && spec.hiddenSize === arch.hiddenSize && (arch.kvHeads === null || spec.kvHeads === arch.kvHeads));
}

function list(names: string[], max = 3): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}
