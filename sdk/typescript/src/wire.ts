// Loading the plugin protocol for @grpc/grpc-js from the generated descriptor.
// Messages use camelCase field names, bytes as Buffer, 64-bit integers as
// strings, enums as their names, and oneofs named by a virtual field.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { descriptor } from "./gen/descriptor.js";

const packageDefinition = protoLoader.fromJSON(descriptor, {
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
});

type ServiceCtor = grpc.ServiceClientConstructor;
const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  mcphost: { plugin: { v1: { PluginService: ServiceCtor } } };
  plugin: { GRPCController: ServiceCtor };
  grpc: { health: { v1: { Health: ServiceCtor } } };
};

export const pluginService = loaded.mcphost.plugin.v1.PluginService.service;
export const controllerService = loaded.plugin.GRPCController.service;
export const healthService = loaded.grpc.health.v1.Health.service;
/** Client constructors, for tests that play the host. */
export const PluginServiceClient = loaded.mcphost.plugin.v1.PluginService;
export const ControllerClient = loaded.plugin.GRPCController;
export const HealthClient = loaded.grpc.health.v1.Health;
