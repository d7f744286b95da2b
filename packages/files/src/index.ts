/** @tether/files: crash-safe file writes shared by the daemon and the node. */
export { writeFileAtomic } from "./atomic.js";
