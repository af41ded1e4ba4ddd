{
  # The TAP binding: a small N-API addon in plain C (src/native/tap.c), built by
  # `npm install` through node-gyp into build/Release/tap.node.
  # native-notes/README.md explains how it talks to the kernel.
  "targets": [
    {
      "target_name": "tap",
      "sources": ["src/native/tap.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources!": ["src/native/tap.c"] }]
      ]
    }
  ]
}
