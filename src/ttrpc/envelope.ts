/** The ttrpc Request and Response envelopes, and the error a failed call carries. */
import { loadProto, decodeMessage, encodeMessage } from './proto.js';
import { SandpodError } from '../errors.js';
import { kindForCode, type CodeValue } from './codes.js';

const root = loadProto('./ttrpc.proto', import.meta.url);
const requestType = root.lookupType('ttrpc.Request');
const responseType = root.lookupType('ttrpc.Response');

export interface TtrpcRequest {
  service: string;
  method: string;
  payload: Buffer;
  timeout_nano: number;
  metadata: { key: string; value: string }[];
}
export interface TtrpcResponse { status?: { code: number; message: string } | null; payload: Buffer }

export const encodeRequest = (r: Partial<TtrpcRequest> & { service: string; method: string }): Uint8Array => encodeMessage(requestType, r);
export const decodeRequest = (b: Uint8Array): TtrpcRequest => decodeMessage<TtrpcRequest>(requestType, b);
export const encodeResponse = (r: { status?: { code: number; message: string }; payload?: Uint8Array }): Uint8Array => encodeMessage(responseType, r);
export const decodeResponse = (b: Uint8Array): TtrpcResponse => decodeMessage<TtrpcResponse>(responseType, b);

/**
 * A call that ended with a non-OK status: a SandpodError of the kind the gRPC `code` stands for, with the code kept
 * so a server can answer with exactly the code it was given.
 */
export class TtrpcError extends SandpodError {
  constructor(readonly code: CodeValue | number, message: string) {
    super(kindForCode(code), message);
    this.name = 'TtrpcError';
  }
}
