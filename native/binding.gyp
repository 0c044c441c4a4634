{
  "variables": {
    "has_dpdk": "<!(pkg-config --exists libdpdk && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "baton_native",
      "sources": [
        "src/addon.cc", "src/futex.cc", "src/arena.cc", "src/poller.cc",
        "src/tap.cc", "src/af_packet.cc", "src/dpdk.cc", "src/sha256.cc", "src/cluster_beat.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "include", "src"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall", "-Wextra", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti"],
      "conditions": [
        ["has_dpdk==1", {
          "defines": ["BATON_HAVE_DPDK=1"],
          "cflags_cc": ["<!@(pkg-config --cflags libdpdk)"],
          "libraries": ["<!@(pkg-config --libs libdpdk)"]
        }]
      ]
    }
  ]
}
