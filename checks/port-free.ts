/**
 * port.free: the host port the server will be published on is free. A taken port makes
 * `docker run -p` fail with "address already in use" after the image was already prepared.
 */
import { defineCheck, type Judgement } from '../src/judge.js';

export const portFree = defineCheck({
  id: 'port.free',
  title: 'Host port',
  needs: ['port'],
  judge({ port }, settings): Judgement {
    const where = `${port.host}:${port.port}`;
    const measured = { port: port.port, host: port.host, state: port.state, holder: port.holder, alternative: port.alternative };
    switch (port.state) {
      case 'free':
        return { status: 'pass', summary: `${where} is free`, measured };
      case 'untested':
        return { status: 'warn', summary: port.message ?? `could not try ${where}`, fix: `make sure nothing listens on ${where}, or pick a port from 1024 up with --port`, measured };
      case 'address-not-local':
        return { status: 'fail', summary: port.message ?? `${port.host} is not an address of this machine`, fix: 'publish on an address of this machine, e.g. --publish-host 127.0.0.1', measured };
      case 'in-use':
        break;
    }
    const ownContainer = port.holder === `container ${settings.name}`;
    if (ownContainer && settings.replace) {
      return { status: 'pass', summary: `${where} is held by container ${settings.name}, which --replace removes first`, measured };
    }
    const holder = port.holder ? ` by ${port.holder}` : '';
    const otherPort = port.alternative !== null ? `use --port ${port.alternative} (free)` : 'pick a free port with --port N';
    const fix = ownContainer
      ? `a previous guard-doctor up is still running: guard-doctor down --name ${settings.name} (or up --replace), or ${otherPort}`
      : port.holder?.startsWith('container ')
        ? `stop it (docker stop ${port.holder.slice('container '.length).split(', ')[0]}) or ${otherPort}`
        : `stop what listens there${port.holder ? ` (${port.holder})` : ''} or ${otherPort}`;
    return { status: 'fail', summary: `${where} is already taken${holder}`, fix, measured };
  },
});
