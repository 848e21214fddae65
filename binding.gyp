{
  "targets": [
    {
      "target_name": "rtpbridge_native",
      "sources": [
        "native/address.cc",
        "native/engine.cc",
        "native/shard.cc",
        "native/shard_loop.cc",
        "native/side.cc",
        "native/sockets.cc",
        "native/srtp.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS"
      ],
      "cflags!": [
        "-fno-exceptions"
      ],
      "cflags_cc!": [
        "-fno-exceptions",
        "-std=gnu++17"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-O2",
        "-Wall",
        "-Wextra"
      ],
      "ldflags": [
        "-pthread"
      ]
    }
  ],
  "conditions": [
    [
      "'<!(pkg-config --exists opus && echo yes || echo no)'=='yes'",
      {
        "targets": [
          {
            "target_name": "rtpbridge_opus",
            "sources": [
              "native/opus/opus.cc"
            ],
            "include_dirs": [
              "<!(node -p \"require('node-addon-api').include_dir\")",
              "<!@(pkg-config --cflags-only-I opus | sed 's/-I//g')"
            ],
            "libraries": [
              "<!@(pkg-config --libs opus)"
            ],
            "defines": [
              "NAPI_VERSION=8",
              "NAPI_CPP_EXCEPTIONS"
            ],
            "cflags!": [
              "-fno-exceptions"
            ],
            "cflags_cc!": [
              "-fno-exceptions",
              "-std=gnu++17"
            ],
            "cflags_cc": [
              "-std=c++17",
              "-O2",
              "-Wall",
              "-Wextra"
            ]
          }
        ]
      }
    ]
  ]
}
