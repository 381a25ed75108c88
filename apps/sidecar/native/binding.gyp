{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["udp_batch.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "fs_lock",
      "sources": ["fs_lock.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "fs_stat",
      "sources": ["fs_stat.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ],
  "conditions": [
    # fs_hash.c calls the OpenSSL inside Node, whose headers Node ships only when OpenSSL is built
    # in (Node's own releases); a Node linked to the system's OpenSSL builds the others without it.
    ["node_shared_openssl=='false'", {
      "targets": [
        {
          "target_name": "fs_hash",
          "sources": ["fs_hash.c"],
          "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
        }
      ]
    }]
  ]
}
