{
  "patcher": {
    "fileversion": 1,
    "appversion": {
      "major": 8,
      "minor": 5,
      "revision": 5,
      "architecture": "x64",
      "modernui": 1
    },
    "classnamespace": "box",
    "rect": [
      40.0,
      60.0,
      1180.0,
      860.0
    ],
    "bglocked": 0,
    "openinpresentation": 0,
    "default_fontsize": 12.0,
    "default_fontface": 0,
    "default_fontname": "Arial",
    "gridonopen": 1,
    "gridsize": [
      15.0,
      15.0
    ],
    "gridsnaponopen": 1,
    "objectsnaponopen": 1,
    "statusbarvisible": 2,
    "toolbarvisible": 1,
    "boxanimatetime": 200,
    "enablehscroll": 1,
    "enablevscroll": 1,
    "description": "",
    "digest": "",
    "tags": "",
    "style": "",
    "subpatcher_template": "",
    "boxes": [
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            15,
            10,
            1150,
            76.0
          ],
          "text": "dexbridge control - sound in, DX7 voice out. HOW TO USE: (1) start the daemon with replies to this patch and a files folder for the snippets: dexbridge serve --reply-port 9001 --midi-out virtual:dexbridge --files-dir /tmp/dexbridge-files (add --mode param --mode osc to drive dexbridge_dexed_host.maxpat). (2) This patch sends OSC to 127.0.0.1:9000 (the daemon's default --osc-port) and listens on 9001; change both boxes at the bottom left if you changed them. (3) Click ping: 'daemon alive' shows it answers. (4) Sound in: switch audio on, click 'record 3 s' (the snippet is written to the path below, inside the daemon's --files-dir, then sent as /dexbridge/infer/file), or drop an audio file or .syx bank from a folder the daemon may read (it reads and writes files only in its --files-dir folders), or let the daemon record its own input. (5) Shape it: the macro sliders move the voice along the model's main axes (-1..1 around the current voice); fill morph slots A-D and drag the pad (or the A->B slider). Replies (parameter changes, what the engine heard, errors) show at the bottom right and in the Max console; other dexbridge patches use [s dexbridge.send] / [r dexbridge.replies].",
          "linecount": 5,
          "fontsize": 13.0,
          "id": "obj-1"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            15,
            770,
            180,
            20.0
          ],
          "text": "OSC out (daemon --osc-port)",
          "linecount": 1,
          "id": "obj-2"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "r dexbridge.send",
          "numinlets": 0,
          "numoutlets": 1,
          "patching_rect": [
            15,
            795,
            122.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-3"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "udpsend 127.0.0.1 9000",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            15,
            825,
            164.0,
            22.0
          ],
          "id": "obj-4"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            15,
            95,
            200,
            20.0
          ],
          "text": "1. SOUND IN",
          "linecount": 1,
          "fontface": 1,
          "id": "obj-5"
        }
      },
      {
        "box": {
          "maxclass": "toggle",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            15,
            120,
            24,
            24
          ],
          "outlettype": [
            "int"
          ],
          "id": "obj-6"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            45,
            122,
            90,
            20.0
          ],
          "text": "audio on/off",
          "linecount": 1,
          "id": "obj-7"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "adc~ 1",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            15,
            155,
            52.0,
            22.0
          ],
          "outlettype": [
            "signal"
          ],
          "id": "obj-8"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "record~ dexbridge_snippet",
          "numinlets": 3,
          "numoutlets": 1,
          "patching_rect": [
            15,
            260,
            185.0,
            22.0
          ],
          "outlettype": [
            "signal"
          ],
          "id": "obj-9"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "buffer~ dexbridge_snippet 3000 1",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            15,
            300,
            170,
            22.0
          ],
          "outlettype": [
            "float",
            "bang"
          ],
          "id": "obj-10"
        }
      },
      {
        "box": {
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            150,
            120,
            24,
            24
          ],
          "outlettype": [
            "bang"
          ],
          "id": "obj-11"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            178,
            122,
            80,
            20.0
          ],
          "text": "record 3 s",
          "linecount": 1,
          "id": "obj-12"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "t b b",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            150,
            155,
            45.0,
            22.0
          ],
          "outlettype": [
            "bang",
            "bang"
          ],
          "id": "obj-13"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            190,
            190,
            30.0,
            22.0
          ],
          "text": "1",
          "outlettype": [
            ""
          ],
          "id": "obj-14"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "delay 3000",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            150,
            190,
            80.0,
            22.0
          ],
          "outlettype": [
            "bang"
          ],
          "id": "obj-15"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "t b b b",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            150,
            225,
            59.0,
            22.0
          ],
          "outlettype": [
            "bang",
            "bang",
            "bang"
          ],
          "id": "obj-16"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            230,
            260,
            30.0,
            22.0
          ],
          "text": "0",
          "outlettype": [
            ""
          ],
          "id": "obj-17"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "loadbang",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            290,
            120,
            66.0,
            22.0
          ],
          "outlettype": [
            "bang"
          ],
          "id": "obj-18"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            290,
            150,
            200,
            22.0
          ],
          "text": "/tmp/dexbridge-files/snippet.wav",
          "outlettype": [
            ""
          ],
          "id": "obj-19"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            290,
            175,
            260,
            34.0
          ],
          "text": "temp WAV path, in the daemon's --files-dir (Windows: C:/Temp/dexbridge-files/snippet.wav)",
          "linecount": 2,
          "id": "obj-20"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "zl.reg",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            190,
            300,
            52.0,
            22.0
          ],
          "outlettype": [
            "",
            ""
          ],
          "id": "obj-21"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "zl.reg",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            290,
            300,
            52.0,
            22.0
          ],
          "outlettype": [
            "",
            ""
          ],
          "id": "obj-22"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend writewave",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            190,
            335,
            129.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-23"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "delay 300",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            290,
            225,
            73.0,
            22.0
          ],
          "outlettype": [
            "bang"
          ],
          "id": "obj-24"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend /dexbridge/infer/file",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            290,
            335,
            213.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-25"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            15,
            410,
            260,
            20.0
          ],
          "text": "or drop an audio file (WAV/FLAC/OGG):",
          "linecount": 1,
          "id": "obj-26"
        }
      },
      {
        "box": {
          "maxclass": "dropfile",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            15,
            435,
            250,
            45
          ],
          "outlettype": [
            "",
            ""
          ],
          "id": "obj-27"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "conformpath native boot",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            15,
            490,
            171.0,
            22.0
          ],
          "outlettype": [
            "",
            "int"
          ],
          "id": "obj-28"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend /dexbridge/infer/file",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            15,
            520,
            213.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-29"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            290,
            410,
            250,
            20.0
          ],
          "text": "or let the daemon record its own input:",
          "linecount": 1,
          "id": "obj-30"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            290,
            435,
            159.0,
            22.0
          ],
          "text": "/dexbridge/capture 3.",
          "outlettype": [
            ""
          ],
          "id": "obj-31"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            290,
            470,
            260,
            20.0
          ],
          "text": "drop a .syx bank (morph slots, programs):",
          "linecount": 1,
          "id": "obj-32"
        }
      },
      {
        "box": {
          "maxclass": "dropfile",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            290,
            495,
            250,
            40
          ],
          "outlettype": [
            "",
            ""
          ],
          "id": "obj-33"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "conformpath native boot",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            290,
            545,
            171.0,
            22.0
          ],
          "outlettype": [
            "",
            "int"
          ],
          "id": "obj-34"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend /dexbridge/bank/load",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            290,
            575,
            206.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-35"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            580,
            95,
            300,
            20.0
          ],
          "text": "2. MACROS (-1..1 around the current voice; labels: what +1 does)",
          "linecount": 1,
          "fontface": 1,
          "id": "obj-36"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            580,
            120,
            30.0,
            22.0
          ],
          "text": "64",
          "outlettype": [
            ""
          ],
          "id": "obj-37"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            615,
            122,
            80,
            20.0
          ],
          "text": "centre all",
          "linecount": 1,
          "id": "obj-38"
        }
      },
      {
        "box": {
          "maxclass": "slider",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            580,
            150,
            22,
            120
          ],
          "size": 129.0,
          "outlettype": [
            ""
          ],
          "id": "obj-39"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            580,
            272,
            72,
            34.0
          ],
          "text": "macro 0",
          "linecount": 2,
          "id": "obj-40"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "scale 0 128 -1. 1.",
          "numinlets": 6,
          "numoutlets": 1,
          "patching_rect": [
            580,
            300,
            70,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-41"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend /dexbridge/macro 0",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            580,
            330,
            70,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-42"
        }
      },
      {
        "box": {
          "maxclass": "slider",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            655,
            150,
            22,
            120
          ],
          "size": 129.0,
          "outlettype": [
            ""
          ],
          "id": "obj-43"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            655,
            272,
            72,
            34.0
          ],
          "text": "macro 1",
          "linecount": 2,
          "id": "obj-44"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "scale 0 128 -1. 1.",
          "numinlets": 6,
          "numoutlets": 1,
          "patching_rect": [
            655,
            300,
            70,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-45"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend /dexbridge/macro 1",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            655,
            360,
            70,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-46"
        }
      },
      {
        "box": {
          "maxclass": "slider",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            730,
            150,
            22,
            120
          ],
          "size": 129.0,
          "outlettype": [
            ""
          ],
          "id": "obj-47"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            730,
            272,
            72,
            34.0
          ],
          "text": "macro 2",
          "linecount": 2,
          "id": "obj-48"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "scale 0 128 -1. 1.",
          "numinlets": 6,
          "numoutlets": 1,
          "patching_rect": [
            730,
            300,
            70,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-49"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend /dexbridge/macro 2",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            730,
            330,
            70,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-50"
        }
      },
      {
        "box": {
          "maxclass": "slider",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            805,
            150,
            22,
            120
          ],
          "size": 129.0,
          "outlettype": [
            ""
          ],
          "id": "obj-51"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            805,
            272,
            72,
            34.0
          ],
          "text": "macro 3",
          "linecount": 2,
          "id": "obj-52"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "scale 0 128 -1. 1.",
          "numinlets": 6,
          "numoutlets": 1,
          "patching_rect": [
            805,
            300,
            70,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-53"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend /dexbridge/macro 3",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            805,
            360,
            70,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-54"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            900,
            95,
            270,
            20.0
          ],
          "text": "3. MORPH: fill slots A B C D, then drag",
          "linecount": 1,
          "fontface": 1,
          "id": "obj-55"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            900,
            120,
            220,
            22.0
          ],
          "text": "/dexbridge/morph/slot 0 current",
          "outlettype": [
            ""
          ],
          "id": "obj-56"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1125,
            120,
            60,
            20.0
          ],
          "text": "A = current voice",
          "linecount": 1,
          "id": "obj-57"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            900,
            147,
            220,
            22.0
          ],
          "text": "/dexbridge/morph/slot 1 current",
          "outlettype": [
            ""
          ],
          "id": "obj-58"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1125,
            147,
            60,
            20.0
          ],
          "text": "B = current voice",
          "linecount": 1,
          "id": "obj-59"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            900,
            174,
            220,
            22.0
          ],
          "text": "/dexbridge/morph/slot 2 current",
          "outlettype": [
            ""
          ],
          "id": "obj-60"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1125,
            174,
            60,
            20.0
          ],
          "text": "C = current voice",
          "linecount": 1,
          "id": "obj-61"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            900,
            201,
            220,
            22.0
          ],
          "text": "/dexbridge/morph/slot 3 current",
          "outlettype": [
            ""
          ],
          "id": "obj-62"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1125,
            201,
            60,
            20.0
          ],
          "text": "D = current voice",
          "linecount": 1,
          "id": "obj-63"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            900,
            232,
            260,
            20.0
          ],
          "text": "or slot (0-3) = bank voice (0-31):",
          "linecount": 1,
          "id": "obj-64"
        }
      },
      {
        "box": {
          "maxclass": "number",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            900,
            255,
            50,
            22
          ],
          "minimum": 0,
          "maximum": 3,
          "outlettype": [
            "",
            "bang"
          ],
          "id": "obj-65"
        }
      },
      {
        "box": {
          "maxclass": "number",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            960,
            255,
            50,
            22
          ],
          "minimum": 0,
          "maximum": 31,
          "outlettype": [
            "",
            "bang"
          ],
          "id": "obj-66"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "t b i",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            960,
            285,
            45.0,
            22.0
          ],
          "outlettype": [
            "bang",
            "int"
          ],
          "id": "obj-67"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "pack 0 0",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            900,
            315,
            66.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-68"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend /dexbridge/morph/slot",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            900,
            345,
            213.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-69"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            900,
            380,
            200,
            20.0
          ],
          "text": "x: A->B, y: up to C/D",
          "linecount": 1,
          "id": "obj-70"
        }
      },
      {
        "box": {
          "maxclass": "pictslider",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            900,
            405,
            150,
            150
          ],
          "leftvalue": 0,
          "rightvalue": 127,
          "topvalue": 127,
          "bottomvalue": 0,
          "outlettype": [
            "int",
            "int"
          ],
          "id": "obj-71"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "scale 0 127 0. 1.",
          "numinlets": 6,
          "numoutlets": 1,
          "patching_rect": [
            900,
            565,
            110,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-72"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "scale 0 127 0. 1.",
          "numinlets": 6,
          "numoutlets": 1,
          "patching_rect": [
            1020,
            565,
            110,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-73"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "pack 0. 0.",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            900,
            595,
            80.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-74"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend /dexbridge/morph",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            900,
            625,
            178.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-75"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1060,
            405,
            100,
            20.0
          ],
          "text": "A -> B only:",
          "linecount": 1,
          "id": "obj-76"
        }
      },
      {
        "box": {
          "maxclass": "slider",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            1060,
            430,
            100,
            22
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-77"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "scale 0 127 0. 1.",
          "numinlets": 6,
          "numoutlets": 1,
          "patching_rect": [
            1060,
            460,
            110,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-78"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend /dexbridge/morph",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            1060,
            490,
            110,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-79"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            580,
            410,
            200,
            20.0
          ],
          "text": "4. DAEMON",
          "linecount": 1,
          "fontface": 1,
          "id": "obj-80"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            580,
            435,
            270,
            22.0
          ],
          "text": "/dexbridge/ping",
          "outlettype": [
            ""
          ],
          "id": "obj-81"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            580,
            462,
            270,
            22.0
          ],
          "text": "/dexbridge/status",
          "outlettype": [
            ""
          ],
          "id": "obj-82"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            580,
            489,
            270,
            22.0
          ],
          "text": "/dexbridge/note 60 100 1.",
          "outlettype": [
            ""
          ],
          "id": "obj-83"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            580,
            516,
            270,
            22.0
          ],
          "text": "/dexbridge/mode param",
          "outlettype": [
            ""
          ],
          "id": "obj-84"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            580,
            543,
            270,
            22.0
          ],
          "text": "/dexbridge/mode param osc",
          "outlettype": [
            ""
          ],
          "id": "obj-85"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            580,
            570,
            270,
            22.0
          ],
          "text": "/dexbridge/dump dexbridge_voice.syx",
          "outlettype": [
            ""
          ],
          "id": "obj-86"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            260,
            640,
            300,
            20.0
          ],
          "text": "OSC replies (daemon --reply-port 9001)",
          "linecount": 1,
          "fontface": 1,
          "id": "obj-87"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "udpreceive 9001",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            260,
            665,
            115.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-88"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "s dexbridge.replies",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            400,
            665,
            143.0,
            22.0
          ],
          "id": "obj-89"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "route /dexbridge/param /dexbridge/inferred /dexbridge/error /dexbridge/done /dexbridge/pong /dexbridge/status",
          "numinlets": 7,
          "numoutlets": 7,
          "patching_rect": [
            260,
            700,
            700,
            22.0
          ],
          "outlettype": [
            "",
            "",
            "",
            "",
            "",
            "",
            ""
          ],
          "id": "obj-90"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend set",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            260,
            735,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-91"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            260,
            790,
            170,
            22.0
          ],
          "text": "",
          "outlettype": [
            ""
          ],
          "id": "obj-92"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            260,
            815,
            170,
            34.0
          ],
          "text": "last parameter change (VCED index, value)",
          "linecount": 2,
          "id": "obj-93"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend set",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            435,
            735,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-94"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            435,
            790,
            170,
            22.0
          ],
          "text": "",
          "outlettype": [
            ""
          ],
          "id": "obj-95"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            435,
            815,
            170,
            34.0
          ],
          "text": "engine heard (f0 Hz, level dB, backend)",
          "linecount": 2,
          "id": "obj-96"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend set",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            610,
            735,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-97"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            610,
            790,
            170,
            22.0
          ],
          "text": "",
          "outlettype": [
            ""
          ],
          "id": "obj-98"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            610,
            815,
            170,
            34.0
          ],
          "text": "error",
          "linecount": 2,
          "id": "obj-99"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend set",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            785,
            735,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-100"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            785,
            790,
            170,
            22.0
          ],
          "text": "",
          "outlettype": [
            ""
          ],
          "id": "obj-101"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            785,
            815,
            170,
            34.0
          ],
          "text": "file written",
          "linecount": 2,
          "id": "obj-102"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "unpack 0 0",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            345,
            735,
            70,
            22.0
          ],
          "outlettype": [
            "int",
            "int"
          ],
          "id": "obj-103"
        }
      },
      {
        "box": {
          "maxclass": "number",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            345,
            762,
            40,
            22
          ],
          "outlettype": [
            "",
            "bang"
          ],
          "id": "obj-104"
        }
      },
      {
        "box": {
          "maxclass": "number",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            390,
            762,
            40,
            22
          ],
          "outlettype": [
            "",
            "bang"
          ],
          "id": "obj-105"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            960,
            735,
            120,
            22.0
          ],
          "text": "set daemon alive",
          "outlettype": [
            ""
          ],
          "id": "obj-106"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            960,
            765,
            120,
            22.0
          ],
          "text": "",
          "outlettype": [
            ""
          ],
          "id": "obj-107"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend set",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            1090,
            735,
            80,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-108"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            960,
            795,
            210,
            22.0
          ],
          "text": "",
          "outlettype": [
            ""
          ],
          "id": "obj-109"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "print dexbridge",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            1090,
            700,
            115.0,
            22.0
          ],
          "id": "obj-110"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "print dexbridge.param",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            15,
            700,
            157.0,
            22.0
          ],
          "id": "obj-111"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            700,
            120,
            125,
            22.0
          ],
          "text": "/dexbridge/macros",
          "outlettype": [
            ""
          ],
          "id": "obj-112"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "r dexbridge.replies",
          "numinlets": 0,
          "numoutlets": 1,
          "patching_rect": [
            15,
            560,
            125,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-113"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "route /dexbridge/macros",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            15,
            590,
            150,
            22.0
          ],
          "outlettype": [
            "",
            ""
          ],
          "id": "obj-114"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "unpack s s s s",
          "numinlets": 1,
          "numoutlets": 4,
          "patching_rect": [
            15,
            620,
            100,
            22.0
          ],
          "outlettype": [
            "",
            "",
            "",
            ""
          ],
          "id": "obj-115"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            150,
            560,
            105,
            48.0
          ],
          "text": "macro names (what +1 does) -> slider labels",
          "linecount": 3,
          "id": "obj-120"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend set",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            15,
            650,
            55,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-116"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend set",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            75,
            650,
            55,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-117"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend set",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            135,
            650,
            55,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-118"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "prepend set",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            195,
            650,
            55,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-119"
        }
      }
    ],
    "lines": [
      {
        "patchline": {
          "source": [
            "obj-3",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-6",
            0
          ],
          "destination": [
            "obj-8",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-8",
            0
          ],
          "destination": [
            "obj-9",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-11",
            0
          ],
          "destination": [
            "obj-13",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-13",
            1
          ],
          "destination": [
            "obj-14",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-14",
            0
          ],
          "destination": [
            "obj-9",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-13",
            0
          ],
          "destination": [
            "obj-15",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-15",
            0
          ],
          "destination": [
            "obj-16",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-16",
            2
          ],
          "destination": [
            "obj-17",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-17",
            0
          ],
          "destination": [
            "obj-9",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-18",
            0
          ],
          "destination": [
            "obj-19",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-19",
            0
          ],
          "destination": [
            "obj-21",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-19",
            0
          ],
          "destination": [
            "obj-22",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-16",
            1
          ],
          "destination": [
            "obj-21",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-21",
            0
          ],
          "destination": [
            "obj-23",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-23",
            0
          ],
          "destination": [
            "obj-10",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-16",
            0
          ],
          "destination": [
            "obj-24",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-24",
            0
          ],
          "destination": [
            "obj-22",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-22",
            0
          ],
          "destination": [
            "obj-25",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-25",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-27",
            0
          ],
          "destination": [
            "obj-28",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-28",
            0
          ],
          "destination": [
            "obj-29",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-29",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-31",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-33",
            0
          ],
          "destination": [
            "obj-34",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-34",
            0
          ],
          "destination": [
            "obj-35",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-35",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-37",
            0
          ],
          "destination": [
            "obj-39",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-39",
            0
          ],
          "destination": [
            "obj-41",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-41",
            0
          ],
          "destination": [
            "obj-42",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-42",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-37",
            0
          ],
          "destination": [
            "obj-43",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-43",
            0
          ],
          "destination": [
            "obj-45",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-45",
            0
          ],
          "destination": [
            "obj-46",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-46",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-37",
            0
          ],
          "destination": [
            "obj-47",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-47",
            0
          ],
          "destination": [
            "obj-49",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-49",
            0
          ],
          "destination": [
            "obj-50",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-50",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-37",
            0
          ],
          "destination": [
            "obj-51",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-51",
            0
          ],
          "destination": [
            "obj-53",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-53",
            0
          ],
          "destination": [
            "obj-54",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-54",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-56",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-58",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-60",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-62",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-66",
            0
          ],
          "destination": [
            "obj-67",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-65",
            0
          ],
          "destination": [
            "obj-68",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-67",
            1
          ],
          "destination": [
            "obj-68",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-67",
            0
          ],
          "destination": [
            "obj-68",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-68",
            0
          ],
          "destination": [
            "obj-69",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-69",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-71",
            0
          ],
          "destination": [
            "obj-72",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-71",
            1
          ],
          "destination": [
            "obj-73",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-72",
            0
          ],
          "destination": [
            "obj-74",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-73",
            0
          ],
          "destination": [
            "obj-74",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-74",
            0
          ],
          "destination": [
            "obj-75",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-75",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-77",
            0
          ],
          "destination": [
            "obj-78",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-78",
            0
          ],
          "destination": [
            "obj-79",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-79",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-81",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-82",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-83",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-84",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-85",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-86",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-88",
            0
          ],
          "destination": [
            "obj-89",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-88",
            0
          ],
          "destination": [
            "obj-90",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-90",
            0
          ],
          "destination": [
            "obj-91",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-91",
            0
          ],
          "destination": [
            "obj-92",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-90",
            1
          ],
          "destination": [
            "obj-94",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-94",
            0
          ],
          "destination": [
            "obj-95",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-90",
            2
          ],
          "destination": [
            "obj-97",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-97",
            0
          ],
          "destination": [
            "obj-98",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-90",
            3
          ],
          "destination": [
            "obj-100",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-100",
            0
          ],
          "destination": [
            "obj-101",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-90",
            0
          ],
          "destination": [
            "obj-103",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-103",
            0
          ],
          "destination": [
            "obj-104",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-103",
            1
          ],
          "destination": [
            "obj-105",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-90",
            4
          ],
          "destination": [
            "obj-106",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-106",
            0
          ],
          "destination": [
            "obj-107",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-90",
            5
          ],
          "destination": [
            "obj-108",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-108",
            0
          ],
          "destination": [
            "obj-109",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-90",
            6
          ],
          "destination": [
            "obj-110",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-90",
            0
          ],
          "destination": [
            "obj-111",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-18",
            0
          ],
          "destination": [
            "obj-112",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-112",
            0
          ],
          "destination": [
            "obj-4",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-113",
            0
          ],
          "destination": [
            "obj-114",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-114",
            0
          ],
          "destination": [
            "obj-115",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            0
          ],
          "destination": [
            "obj-116",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-116",
            0
          ],
          "destination": [
            "obj-40",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            1
          ],
          "destination": [
            "obj-117",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-117",
            0
          ],
          "destination": [
            "obj-44",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            2
          ],
          "destination": [
            "obj-118",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-118",
            0
          ],
          "destination": [
            "obj-48",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-115",
            3
          ],
          "destination": [
            "obj-119",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-119",
            0
          ],
          "destination": [
            "obj-52",
            0
          ]
        }
      }
    ],
    "dependency_cache": [],
    "autosave": 0
  }
}
