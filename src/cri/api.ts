/**
 * The runtime.v1 services of api.proto as gRPC service definitions: method paths, and (de)serializers made by
 * protobufjs from the contract file. The client uses them, and so can a fake CRI server in a test.
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { internal } from '../errors.js';

export type CriServiceName = 'RuntimeService' | 'ImageService';

/** Decoded messages read as types.ts describes them. */
const DECODE: protobuf.IConversionOptions = { longs: Number, enums: String, bytes: Buffer, defaults: true, arrays: true, objects: true };

let services: Record<CriServiceName, ServiceDefinition> | undefined;

const serialize = (type: protobuf.Type) => (value: object): Buffer => Buffer.from(type.encode(type.fromObject(value)).finish());
const deserialize = (type: protobuf.Type) => (data: Buffer): object => type.toObject(type.decode(data), DECODE);

function serviceDefinition(service: protobuf.Service): ServiceDefinition {
  const definition: Record<string, MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    const request = method.resolvedRequestType;
    const response = method.resolvedResponseType;
    if (!request || !response) throw internal('cri/api.proto', `${service.name}.${method.name} names a message the file does not define`);
    definition[method.name] = {
      path: `/runtime.v1.${service.name}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: serialize(request),
      requestDeserialize: deserialize(request),
      responseSerialize: serialize(response),
      responseDeserialize: deserialize(response),
    };
  }
  return definition;
}

/** The RuntimeService and ImageService definitions, loaded from api.proto once. */
export function criServices(): Record<CriServiceName, ServiceDefinition> {
  if (!services) {
    const root = new protobuf.Root().loadSync(fileURLToPath(new URL('./api.proto', import.meta.url)), { keepCase: true }).resolveAll();
    services = {
      RuntimeService: serviceDefinition(root.lookupService('runtime.v1.RuntimeService')),
      ImageService: serviceDefinition(root.lookupService('runtime.v1.ImageService')),
    };
  }
  return services;
}
