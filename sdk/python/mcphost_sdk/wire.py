"""Message classes of the wire contract, built from the serialized descriptors
in _descriptors.py (generated from the Go code the host uses; see
sdk/python/gendescriptor for why not protoc)."""

from google.protobuf import descriptor_pool, message_factory

from ._descriptors import FILES

# A pool of our own, so a plugin that also imports other generated modules
# (Google's health service, say) does not collide with these names.
_pool = descriptor_pool.DescriptorPool()
_files = [_pool.AddSerializedFile(raw) for raw in FILES]


def _message_class(desc):
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(_pool).GetPrototype(desc)


class pb:
    """The protocol's messages by short name: pb.CallToolResponse, pb.Empty, ..."""


for _fd in _files:
    for _name, _desc in _fd.message_types_by_name.items():
        setattr(pb, _name, _message_class(_desc))

PLUGIN_SERVICE = "mcphost.plugin.v1.PluginService"
HEALTH_SERVICE = "grpc.health.v1.Health"
CONTROLLER_SERVICE = "plugin.GRPCController"
