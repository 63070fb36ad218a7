// A real DNS server for tests: on 127.0.0.1, over UDP and TCP on one port,
// authoritative for whatever names its mutable `txt` map holds. It is what
// private.sso_domain_policy.dns_nameserver points the sso function's
// Deno.resolveDns at, so a test publishes (and withdraws) the TXT record that
// proves a domain without any real DNS. The wire format is dns-packet's (the
// codec behind multicast-dns and bonjour), never hand-written.
//
// Answers: the TXT records of a known name (each value split into strings of
// at most 255 bytes, as a zone file does with a long value); NOERROR with no
// answer for another type at a known name; NXDOMAIN for an unknown name;
// silence for a name in `unanswered`. A UDP answer larger than the client can
// take (512 bytes, or its EDNS size) is sent truncated (TC), so the client
// asks again over TCP, as on a real server.
import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";

export type DnsQuery = { name: string; type: string; transport: "udp" | "tcp" };

export type DnsServer = {
  /** `127.0.0.1:<port>`, the form of sso_domain_policy.dns_nameserver. */
  address: string;
  port: number;
  /**
   * TXT records by name (lowercase, no trailing dot): each value is one
   * record. A name present with no value exists but has no TXT record.
   */
  txt: Map<string, string[]>;
  /**
   * Names whose questions go unanswered, as behind an unreachable authority:
   * the client times out, which it must not take for "no record".
   */
  unanswered: Set<string>;
  /** Every question received so far, in order: which lookups were made. */
  queries: DnsQuery[];
  close(): Promise<void>;
};

const NXDOMAIN = 3;
const FORMERR = 1;
// Without EDNS a UDP answer is at most 512 bytes (RFC 1035 4.2.1).
const CLASSIC_UDP_LIMIT = 512;

const canonical = (name: string) => name.toLowerCase().replace(/\.$/, "");

/** A TXT value as character-strings of at most 255 bytes each. */
function chunks(value: string): Buffer[] {
  const bytes = Buffer.from(value);
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 255) {
    out.push(bytes.subarray(at, at + 255));
  }
  return out.length ? out : [Buffer.alloc(0)];
}

export async function startDnsServer(
  records: Record<string, string[]> = {},
): Promise<DnsServer> {
  const txt = new Map(
    Object.entries(records).map(([name, values]) => [canonical(name), values]),
  );
  const unanswered = new Set<string>();
  const queries: DnsQuery[] = [];

  /**
   * The response to one query packet and how large a UDP answer may be, or
   * null for none (not DNS, or a name left unanswered).
   */
  function answer(
    message: Buffer,
    transport: "udp" | "tcp",
  ): { response: Buffer; udpLimit: number } | null {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return null; // not DNS: a real server drops it too
    }
    const questions = query.questions ?? [];
    const opt = (query.additionals ?? []).find((a) => a.type === "OPT") as
      | { udpPayloadSize?: number }
      | undefined;
    const base = {
      type: "response" as const,
      id: query.id,
      questions,
      // Authoritative, and echoing the client's "recursion desired".
      flags: dnsPacket.AUTHORITATIVE_ANSWER |
        (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED,
    };
    const udpLimit = Math.max(
      CLASSIC_UDP_LIMIT,
      opt?.udpPayloadSize ?? CLASSIC_UDP_LIMIT,
    );
    if (questions.length !== 1) {
      return {
        response: dnsPacket.encode({ ...base, flags: base.flags | FORMERR }),
        udpLimit,
      };
    }
    const [question] = questions;
    queries.push({
      name: canonical(question.name),
      type: question.type,
      transport,
    });
    if (unanswered.has(canonical(question.name))) return null;
    const values = txt.get(canonical(question.name));
    if (values === undefined) {
      return {
        response: dnsPacket.encode({ ...base, flags: base.flags | NXDOMAIN }),
        udpLimit,
      };
    }
    const answers = question.type === "TXT"
      ? values.map((value) => ({
        type: "TXT" as const,
        // The name as asked, so a client that varies its case (0x20) matches.
        name: question.name,
        class: "IN" as const,
        // No caching anywhere: a test changes records between lookups.
        ttl: 0,
        data: chunks(value),
      }))
      : [];
    return { response: dnsPacket.encode({ ...base, answers }), udpLimit };
  }

  function onDatagram(udp: dgram.Socket) {
    return (message: Buffer, from: { port: number; address: string }) => {
      const out = answer(message, "udp");
      if (!out) return;
      let { response } = out;
      if (response.length > out.udpLimit) {
        // Too large for this client over UDP: the header and question alone,
        // flagged truncated, so it retries over TCP.
        const decoded = dnsPacket.decode(response);
        response = dnsPacket.encode({
          type: "response",
          id: decoded.id,
          questions: decoded.questions,
          flags: (decoded.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
        });
      }
      udp.send(response, from.port, from.address);
    };
  }

  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    // TCP frames each message with a two-byte length (RFC 1035 4.2.2); a
    // client may send several on one connection.
    let pending = Buffer.alloc(0);
    socket.on("data", (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const out = answer(message, "tcp");
        if (!out) continue; // left unanswered: the client times out
        const frame = Buffer.alloc(2);
        frame.writeUInt16BE(out.response.length);
        socket.write(Buffer.concat([frame, out.response]));
      }
    });
  });

  // One port for both transports, as resolvers expect: UDP picks a free
  // port, TCP takes the same one (retried in the unlikely case it is taken).
  let udp: dgram.Socket | undefined;
  let port = 0;
  for (let attempt = 0; !udp; attempt++) {
    const socket = dgram.createSocket("udp4");
    socket.on("message", onDatagram(socket));
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, "127.0.0.1", () => {
        socket.off("error", reject);
        resolve();
      });
    });
    port = socket.address().port;
    const listening = await new Promise<boolean>((resolve) => {
      const failed = () => resolve(false);
      tcp.once("error", failed);
      tcp.listen(port, "127.0.0.1", () => {
        tcp.off("error", failed);
        resolve(true);
      });
    });
    if (listening) {
      udp = socket;
    } else {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      if (attempt === 9) {
        throw new Error("no port free for both UDP and TCP on 127.0.0.1");
      }
    }
  }
  const bound = udp;

  return {
    address: `127.0.0.1:${port}`,
    port,
    txt,
    unanswered,
    queries,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => bound.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}
