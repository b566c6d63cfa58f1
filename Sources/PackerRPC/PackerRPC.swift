// Packer's plugin RPC protocol (yamux, mux broker, net/rpc + msgpack, gob) and the builder services.
