{
  "targets": [
    {
      "target_name": "crc32c",
      "sources": ["native/crc32c.c"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3"] }
    }
  ]
}
