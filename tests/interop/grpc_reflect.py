"""A grpcurl-style client with no compiled stubs: Python's grpcio discovers
causeway.v1.Log through server reflection, builds the message types from
the descriptors it receives, and calls the service. Exercises reflection,
the wire schema and the status codes from an independent gRPC stack.

Usage: python3 grpc_reflect.py 127.0.0.1:PORT  (prints JSON, exits 1 on failure)"""

import json
import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main() -> None:
    channel = grpc.insecure_channel(sys.argv[1])
    db = ProtoReflectionDescriptorDatabase(channel)
    services = sorted(db.get_services())
    pool = descriptor_pool.DescriptorPool(db)
    log = pool.FindServiceByName("causeway.v1.Log")

    def method(name):
        m = log.methods_by_name[name]
        req = message_factory.GetMessageClass(m.input_type)
        resp = message_factory.GetMessageClass(m.output_type)
        call = channel.unary_unary(
            f"/causeway.v1.Log/{name}",
            request_serializer=req.SerializeToString,
            response_deserializer=resp.FromString,
        )
        return req, call

    add_req, add = method("AddEntries")
    reply = add(add_req(entries=[b"from python grpcio"]))
    cp_req, get_cp = method("GetCheckpoint")
    cp = get_cp(cp_req())

    codes = {}
    for label, entries in [("empty", []), ("oversize", [b"x" * 65536])]:
        try:
            add(add_req(entries=entries))
            codes[label] = "OK"
        except grpc.RpcError as e:
            codes[label] = e.code().name
    inc_req, get_inc = method("GetInclusionProof")
    try:
        get_inc(inc_req(leaf_index=10**9))
        codes["beyond"] = "OK"
    except grpc.RpcError as e:
        codes["beyond"] = e.code().name

    # The server-streaming WatchCheckpoints: the first message is the
    # latest published checkpoint.
    m = log.methods_by_name["WatchCheckpoints"]
    watch = channel.unary_stream(
        "/causeway.v1.Log/WatchCheckpoints",
        request_serializer=message_factory.GetMessageClass(m.input_type).SerializeToString,
        response_deserializer=message_factory.GetMessageClass(m.output_type).FromString,
    )
    stream = watch(message_factory.GetMessageClass(m.input_type)(), timeout=10)
    watched = next(stream)
    stream.cancel()

    # grpc.health.v1, discovered through reflection like the rest.
    health = pool.FindServiceByName("grpc.health.v1.Health").methods_by_name["Check"]
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=message_factory.GetMessageClass(health.input_type).SerializeToString,
        response_deserializer=message_factory.GetMessageClass(health.output_type).FromString,
    )
    health_status = check(message_factory.GetMessageClass(health.input_type)(service="causeway.v1.Log"))

    print(json.dumps({
        "health": health.output_type.enum_types_by_name["ServingStatus"].values_by_number[health_status.status].name,
        "watched_size": watched.tree_size,
        "services": services,
        "methods": sorted(log.methods_by_name),
        "index": reply.entries[0].index,
        "leaf_hash": reply.entries[0].leaf_hash.hex(),
        "tree_size": cp.tree_size,
        "note_first_line": cp.note.split("\n")[0],
        "codes": codes,
    }))


if __name__ == "__main__":
    main()
