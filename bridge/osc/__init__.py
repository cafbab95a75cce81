"""OSC: the ``/dexbridge`` namespace as data, the UDP/TCP server, a client, chunked uploads."""
