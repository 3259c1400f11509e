/**
 * The command line. Commands are declared here and their code is loaded only when run, so
 * `--help` and `--version` stay fast. Every error becomes one clear line and an exit code.
 */
import { Command, CommanderError, Option } from 'commander';
import { DoctorError, UsageError, errorMessage } from './errors.js';
import { loadConfigFile, resolveSettings, type Settings } from './settings.js';
import { EXIT } from './types.js';
import { VERSION } from './version.js';
import { MODEL_NAMES } from './data/models.js';
import { VLLM_FLOOR_TEXT } from './data/serving.js';

type CommandModule = { run(settings: Settings): Promise<number> };

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  check: () => import('./commands/check.js'),
  up: () => import('./commands/up.js'),
  warm: () => import('./commands/warm.js'),
  suite: () => import('./commands/suite.js'),
  diagnose: () => import('./commands/diagnose.js'),
  down: () => import('./commands/down.js'),
  metrics: () => import('./commands/metrics.js'),
  watch: () => import('./commands/watch.js'),
};

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** warm, suite, up, watch: where the server's API key is read from (never the key itself). */
const API_KEY_HELP = 'environment variable holding the server\'s API key (vLLM --api-key), sent as Authorization: Bearer on /v1 requests and never printed (default: VLLM_API_KEY when set)';

function modelOptions(cmd: Command): Command {
  return cmd
    .option('--model <name>', `${MODEL_NAMES.join(', ')} (any case)`, undefined)
    .option('--server <kind>', 'vllm (OpenAI-compatible, port 8000) or web (POST /judge, port 7860)')
    .option('--mount <host:container>', 'the model volume exactly as given to docker run -v')
    .option('--model-dir <path>', 'host folder holding the model; short for --mount PATH:<container model dir>')
    .option('--source <source>', 'where the model comes from: dir (--model-dir/--mount), hf (Hugging Face Hub, into your cache) or modelscope (default: dir with a folder, else hf)')
    .option('--container-model-dir <path>', 'folder the server reads inside the container (case-sensitive)', undefined)
    .option('--image <ref>', `serving image (default: a pinned vllm/vllm-openai tag; ${VLLM_FLOOR_TEXT}; required for web)`)
    .option('--cuda <x.y>', "CUDA version the image was built with (default: read from the image)")
    .option('--gpu <index>', 'nvidia-smi index of the GPU to use, or a MIG device (0:1, or its MIG-... UUID) (default: the one with most free memory)')
    .option('--cpu', 'serve on CPU: GPU checks are skipped and no GPU is requested')
    .option('--max-model-len <tokens>', 'context length the server is started with (default 32768)')
    .option('--gpu-memory-utilization <fraction>', "vLLM's fraction of total GPU memory (default 0.9)")
    .option('--port <port>', 'host port of the server (default 8000 for vllm, 7860 for web)')
    .option('--probe-timeout <sec>', 'time limit for each host probe (default 10)');
}

function suiteOptions(cmd: Command): Command {
  return cmd
    .option('--cases <file>', 'a suite file of your own instead of the bundled one')
    .option('--tag <tag>', 'run only cases with this tag (repeatable)', collect)
    .addOption(new Option('--controversial-as <reading>', 'count controversial as unsafe (strict, default) or safe (loose)').choices(['unsafe', 'safe']))
    .option('--request-timeout <sec>', 'time limit for one request (default 120)')
    .option('--concurrency <n>', 'requests in flight at once (default 4)')
    .option('--metrics-url <url>', 'scrape this Prometheus endpoint before and after and reconcile it with the verdicts');
}

/** --host, --hosts, --parallel: the same command on many hosts over SSH (CONTRACT "Fleets"). */
function fleetOptions(cmd: Command): Command {
  return cmd
    .option('--host <target>', 'run on this host over SSH: [ssh://][user@]host[:port] or an ssh config alias (repeatable)', collect)
    .option('--hosts <file>', 'hosts to run on, one target per line (# comments)')
    .option('--parallel <n>', 'hosts handled at once (default 8)');
}

function reportOptions(cmd: Command, prom = true): Command {
  cmd
    .option('--json', 'print exactly one JSON document on stdout and nothing else there')
    .option('--junit <file>', 'also write a JUnit XML report');
  if (prom) cmd.option('--prom-file <path>', 'also write the results as a Prometheus textfile');
  return cmd
    .option('--strict', 'warnings fail too')
    .option('-v, --verbose', 'show information lines too')
    .option('--config <file>', 'read options from a JSON file; flags win (default ./guard-doctor.config.json)');
}

export function buildProgram(): Command {
  const program = new Command('guard-doctor')
    .description('Preflight, launch, warm-up and edge-case tests for Qwen3Guard-Gen moderation servers')
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for the options)')
    .configureHelp({ sortOptions: false })
    .addHelpText(
      'after',
      `
Exit codes: 0 nothing failed, 1 a check or case failed, 2 invalid command line or config,
3 could not tell (probes timed out or crashed), 4 the container did not start or get ready.

Examples:
  guard-doctor check --model Qwen3Guard-Gen-8B --model-dir /srv/models/Qwen3Guard-Gen-8B
  guard-doctor up --model-dir ./Qwen3Guard-Gen-4B --model qwen3guard-gen-4b
  guard-doctor suite --url http://127.0.0.1:8000 --junit suite.xml`,
    );

  fleetOptions(reportOptions(modelOptions(program.command('check').description('preflight checks of this host for one model and one way of serving it; starts nothing')))
    // The runtime and the publish address decide docker.gpu and port.free, as for up.
    .addOption(new Option('--runtime <cli>', 'container CLI').choices(['docker', 'podman']))
    .option('--publish-host <address>', 'address the port is published on (default 127.0.0.1)')
    .option('--only <group|id>', 'run only these checks: a group (gpu, docker, model, host, port) or a check id; repeatable or comma-separated', collect)
    .option('--list-checks', 'print every check id per command (group, id, title) and exit'));

  const up = fleetOptions(reportOptions(
    suiteOptions(modelOptions(program.command('up').description('check, start the serving container, wait, warm it and run the suite; leaves it running'))),
  )
    .option('--name <name>', 'container name (default guard-doctor-<model in lower case>)')
    .option('--env <KEY=VALUE>', 'environment for the container, repeatable; values are never printed', collect)
    .addOption(new Option('--runtime <cli>', 'container CLI').choices(['docker', 'podman']))
    .option('--publish-host <address>', 'address the port is published on (default 127.0.0.1)')
    .option('--dry-run', 'print the exact run command (secrets redacted) and exit')
    .option('--no-suite', 'stop after warming')
    .option('--force', 'launch even when a check failed')
    .option('--replace', 'remove an existing container of the same name first')
    .option('--keep', 'on Ctrl-C, leave the container running')
    .option('--ready-timeout <sec>', 'give up waiting for the server to answer (default 900)')
    .option('--warm-timeout <sec>', 'time limit for the first (cold) request (default 600)')
    .option('--api-key-env <name>', `${API_KEY_HELP}; default for up: the value of --env VLLM_API_KEY=...`)
    .argument('[serverArgs...]', 'extra arguments for the server process, after --'));
  up.usage('[options] [-- server args...]');

  reportOptions(
    program
      .command('warm')
      .description('wait until an already-running server answers, then warm it')
      .requiredOption('--url <url>', 'base URL of the running server, e.g. http://127.0.0.1:8000')
      .option('--model <name>', 'served model name (vllm; default: asked from /v1/models)')
      .option('--server <kind>', 'vllm or web (default vllm)')
      .option('--ready-timeout <sec>', 'give up waiting for the server to answer (default 900)')
      .option('--warm-timeout <sec>', 'time limit for the first (cold) request (default 600)')
      .option('--request-timeout <sec>', 'time limit for each warm request after the first (default 120)')
      .option('--api-key-env <name>', API_KEY_HELP),
    false,
  );

  fleetOptions(reportOptions(
    suiteOptions(
      program
        .command('suite')
        .description('run the edge-case suite against a running server')
        .requiredOption('--url <url>', 'base URL of the running server, e.g. http://127.0.0.1:8000')
        .option('--model <name>', 'served model name (vllm; default: asked from /v1/models)')
        .option('--server <kind>', 'vllm or web (default vllm)')
        .option('--max-model-len <tokens>', 'the context length the server was started with (default 32768)')
        .option('--api-key-env <name>', API_KEY_HELP),
    ),
  ));

  fleetOptions(program
    .command('diagnose')
    .description('explain a failed deployment from its logs')
    .option('--container <name>', 'read docker logs and docker inspect of this container')
    .option('--log <file>', 'read this log file (repeatable); standard input when none is given', collect)
    .addOption(new Option('--runtime <cli>', 'container CLI').choices(['docker', 'podman']))
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--config <file>', 'read options from a JSON file'));

  fleetOptions(program
    .command('down')
    .description('stop and remove the container that up started')
    .option('--name <name>', 'container name (default guard-doctor-<model in lower case>)')
    .option('--model <name>', 'the model, to derive the default name')
    .addOption(new Option('--runtime <cli>', 'container CLI').choices(['docker', 'podman']))
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--config <file>', 'read options from a JSON file'));

  reportOptions(
    program
      .command('metrics')
      .description('validate a Prometheus endpoint and the metrics it should carry')
      .requiredOption('--url <metrics-url>', 'the metrics endpoint, e.g. http://127.0.0.1:8000/metrics')
      .option('--server <kind>', 'which metric set to expect: vllm or web (default vllm)')
      .option('--cardinality-limit <n>', 'warn when one metric has more series than this (default 100)')
      .option('--request-timeout <sec>', 'time limit for the scrape (default 120)'),
    false,
  );

  fleetOptions(reportOptions(
    program
      .command('watch')
      .description('sample GPU memory per process and report growth (with --host: on that host over SSH)')
      .option('--interval <sec>', 'seconds between samples (default 5)')
      .option('--duration <sec>', 'seconds to watch (default 300)')
      .option('--url <url>', 'also drive the suite in a loop against this server while watching; with --host (one host) the load is driven from this machine against the URL as given')
      .option('--server <kind>', 'vllm or web, with --url (default vllm)')
      .option('--model <name>', 'served model name, with --url')
      .option('--request-timeout <sec>', 'time limit for one suite request, with --url (default 120)')
      .option('--cases <file>', 'the suite file to drive, with --url (default: the bundled suite)')
      .option('--tag <tag>', 'drive only cases with this tag, with --url (repeatable)', collect)
      .option('--api-key-env <name>', `${API_KEY_HELP}, with --url`)
      .option('--gpu <index>', 'only this GPU')
      .option('--probe-timeout <sec>', 'time limit for each nvidia-smi sample, and the SSH connection limit with --host (default 10)'),
    false,
  ));

  for (const cmd of program.commands) {
    cmd.action(async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const exitCode = await runCommand(command, args);
      process.exitCode = exitCode;
    });
  }
  return program;
}

async function runCommand(command: Command, args: unknown[]): Promise<number> {
  const name = command.name();
  const flags: Record<string, unknown> = {};
  const opts = command.opts();
  // Only what the user typed: a config file must not be shadowed by commander defaults.
  for (const key of Object.keys(opts)) {
    if (command.getOptionValueSource(key) === 'cli' || command.getOptionValueSource(key) === 'env') flags[key] = opts[key];
  }
  if (name === 'up') {
    const serverArgs = args[0] as string[] | undefined;
    if (serverArgs?.length) flags.serverArgs = serverArgs;
  }
  const configured = loadConfigFile(opts.config as string | undefined, process.cwd());
  const settings = resolveSettings(name, flags, configured.values);
  (await import('./report/style.js')).useOutput(settings.output);
  if (settings.targets.length > 0) {
    // An unknown --only is a usage error before any host is reached.
    if (settings.only.length > 0) (await import('../checks/index.js')).selectChecks(settings.only);
    const { runFleet } = await import('./fleet/run.js');
    return runFleet(settings);
  }
  const module = await COMMANDS[name]!();
  return module.run(settings);
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.commands.forEach((c) => c.exitOverride());
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return handleError(error);
  }
}

function handleError(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version end here too, with their text already printed.
    if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    if (error.code === 'commander.help') return 0;
    return EXIT.usage;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`guard-doctor: ${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof DoctorError) {
    process.stderr.write(`guard-doctor: ${error.message}\n`);
    if (error.fix) process.stderr.write(`  fix: ${error.fix}\n`);
    return error.exitCode;
  }
  process.stderr.write(`guard-doctor: internal error: ${errorMessage(error)}\n`);
  if (process.env.GUARD_DOCTOR_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
  process.stderr.write('  this is a bug in guard-doctor; please report it with the command you ran (set GUARD_DOCTOR_DEBUG=1 for the stack)\n');
  return EXIT.undetermined;
}
