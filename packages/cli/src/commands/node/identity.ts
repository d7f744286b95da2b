/** tether node identity: print (making it if needed) this node's identity key and device id. */
import type { Command } from "../../cli.js";
import { Exit, NODE_STATE_DIR_OPTION, emit, str } from "../../cli.js";

export const nodeIdentityCommand: Command = {
  name: "node identity",
  summary: "print this node's identity public key and device id (made on first use)",
  args: [],
  help: `Prints the node's Ed25519 identity public key (hex) and the device id derived from it,
creating the key in the state directory if there is none yet (mode 0600). The public key is
what an admin registers with \`tether devices preauthorize --identity-key\`. The private key is
never printed.`,
  examples: ["tether node identity --state-dir /mnt/image/var/lib/tether-node --json   # factory provisioning"],
  options: { ...NODE_STATE_DIR_OPTION },
  async run({ values, io }) {
    const { deviceIdFromIdentityKey, toHex } = await import("@tether/crypto");
    const { defaultStateDir, loadOrCreateIdentity } = await import("@tether/node");
    const dir = str(values["state-dir"]) ?? defaultStateDir(io.env);
    const id = loadOrCreateIdentity(dir);
    const out = { identityKey: toHex(id.publicKey), deviceId: deviceIdFromIdentityKey(id.publicKey), stateDir: dir };
    emit(io, Boolean(values.json), out, () => `device id:    ${out.deviceId}\nidentity key: ${out.identityKey}\n`);
    return Exit.Ok;
  },
};
