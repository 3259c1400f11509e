/** Closing a master connection over its control socket: the message `ssh -O exit` sends, without starting ssh. */
/** OpenSSH's multiplexing protocol (PROTOCOL.mux in its sources), version 4: the messages a terminate needs. */
const MUX_MSG_HELLO = 0x00000001;
const MUX_C_TERMINATE = 0x10000005;
const MUX_S_OK = 0x80000001;

function muxPacket(...words: number[]): Buffer {
  const packet = Buffer.alloc(4 + 4 * words.length);
  packet.writeUInt32BE(4 * words.length, 0);
  words.forEach((word, i) => packet.writeUInt32BE(word, 4 + 4 * i));
  return packet;
}

/**
 * Tell the master listening on `socketPath` to exit, as `ssh -O exit` does: exchange hellos,
 * send MUX_C_TERMINATE, wait for MUX_S_OK or the end of the connection. False when no master
 * answered there (the caller falls back).
 */
export async function terminateMaster(socketPath: string, limitMs: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    let settled = false;
    let input = Buffer.alloc(0);
    let helloSeen = false;
    const socket = net.connect(socketPath);
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), limitMs);
    // The master may exit before its MUX_S_OK gets out (OpenSSH's mux.c says so): once the
    // terminate is sent, the socket closing is the answer, as `ssh -O exit` takes it.
    socket.on('error', () => finish(helloSeen));
    socket.on('close', () => finish(helloSeen));
    socket.on('connect', () => socket.write(muxPacket(MUX_MSG_HELLO, 4)));
    socket.on('data', (chunk: Buffer) => {
      input = Buffer.concat([input, chunk]);
      while (input.length >= 4 && input.length >= 4 + input.readUInt32BE(0)) {
        const body = input.subarray(4, 4 + input.readUInt32BE(0));
        input = input.subarray(4 + body.length);
        const type = body.length >= 4 ? body.readUInt32BE(0) : -1;
        if (!helloSeen) {
          if (type !== MUX_MSG_HELLO) return finish(false);
          helloSeen = true;
          socket.write(muxPacket(MUX_C_TERMINATE, 1));
        } else {
          return finish(type === MUX_S_OK && body.length >= 8 && body.readUInt32BE(4) === 1);
        }
      }
    });
  });
}
