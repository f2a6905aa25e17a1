/**
 * The guest side of Sandpod: the agent that runs inside each VM (./agent, bundled separately) and the
 * builder of the guest image the host boots (./image). Depends only on src/protocol. Must not import
 * host-side runtime code (vmm, sandbox): the agent bundle would drag it into the guest.
 */
export { ensureGuestImage, type GuestImage, type Progress } from './image/build.js';
