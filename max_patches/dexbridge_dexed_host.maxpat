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
      60.0,
      80.0,
      900.0,
      620.0
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
            870,
            92.0
          ],
          "text": "dexbridge Dexed host - Dexed in vst~, driven live by the bridge. HOW TO USE: (1) open dexbridge_control.maxpat as well: it holds the OSC connection and passes the daemon's replies here through [r dexbridge.replies]. (2) Start the daemon: dexbridge serve --reply-port 9001 --mode param --mode osc (or click '/dexbridge/mode param osc' below): it then sends /dexbridge/host_param <Dexed parameter name> <0..1> for every change, and vst~ sets that parameter by name, so held notes change at once. (3) If Dexed is not found by name, click 'plug' and pick the Dexed VST3; 'open' shows its editor; after loading it again, click '/dexbridge/resync' so it gets the whole current voice (the daemon otherwise sends only what changes). (4) Play the keyboard, or choose a MIDI input below; switch audio on with the speaker.",
          "linecount": 6,
          "fontsize": 13.0,
          "id": "obj-1"
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
            110,
            143.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-2"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "route /dexbridge/host_param",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            15,
            140,
            199.0,
            22.0
          ],
          "outlettype": [
            "",
            ""
          ],
          "id": "obj-3"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            110,
            190,
            22.0
          ],
          "text": "/dexbridge/mode param osc",
          "outlettype": [
            ""
          ],
          "id": "obj-4"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "s dexbridge.send",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            300,
            140,
            122.0,
            22.0
          ],
          "id": "obj-5"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            520,
            110,
            40.0,
            22.0
          ],
          "text": "plug",
          "outlettype": [
            ""
          ],
          "id": "obj-6"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            570,
            110,
            40.0,
            22.0
          ],
          "text": "open",
          "outlettype": [
            ""
          ],
          "id": "obj-7"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            15,
            190,
            150,
            20.0
          ],
          "text": "notes: keyboard",
          "linecount": 1,
          "id": "obj-8"
        }
      },
      {
        "box": {
          "maxclass": "kslider",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            15,
            215,
            336,
            53
          ],
          "outlettype": [
            "int",
            "int"
          ],
          "id": "obj-9"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "pack 0 0",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            15,
            280,
            66.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-10"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            15,
            380,
            140,
            22.0
          ],
          "text": "midievent 144 $1 $2",
          "outlettype": [
            ""
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
            380,
            190,
            150,
            20.0
          ],
          "text": "or a MIDI input:",
          "linecount": 1,
          "id": "obj-12"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "loadbang",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            380,
            215,
            66.0,
            22.0
          ],
          "outlettype": [
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
            380,
            245,
            30.0,
            22.0
          ],
          "text": "-1",
          "outlettype": [
            ""
          ],
          "id": "obj-14"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "midiinfo",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            380,
            275,
            66.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-15"
        }
      },
      {
        "box": {
          "maxclass": "umenu",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            380,
            305,
            200,
            22
          ],
          "outlettype": [
            "int",
            "",
            ""
          ],
          "id": "obj-16"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "midiin",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            380,
            335,
            52.0,
            22.0
          ],
          "outlettype": [
            "int"
          ],
          "id": "obj-17"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "midiparse",
          "numinlets": 1,
          "numoutlets": 8,
          "patching_rect": [
            380,
            365,
            120,
            22.0
          ],
          "outlettype": [
            "",
            "",
            "",
            "int",
            "int",
            "",
            "int",
            ""
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
            520,
            400,
            140,
            22.0
          ],
          "text": "midievent 176 $1 $2",
          "outlettype": [
            ""
          ],
          "id": "obj-19"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "vst~ Dexed",
          "numinlets": 2,
          "numoutlets": 8,
          "patching_rect": [
            15,
            440,
            330,
            22.0
          ],
          "outlettype": [
            "signal",
            "signal",
            "",
            "list",
            "int",
            "",
            "",
            ""
          ],
          "id": "obj-20"
        }
      },
      {
        "box": {
          "maxclass": "ezdac~",
          "numinlets": 2,
          "numoutlets": 0,
          "patching_rect": [
            15,
            500,
            45,
            45
          ],
          "id": "obj-21"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            65,
            515,
            100,
            20.0
          ],
          "text": "audio on/off",
          "linecount": 1,
          "id": "obj-22"
        }
      },
      {
        "box": {
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            620,
            110,
            120,
            22.0
          ],
          "text": "/dexbridge/resync",
          "outlettype": [
            ""
          ],
          "id": "obj-23"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            620,
            135,
            230,
            34.0
          ],
          "text": "after loading Dexed again: send it the whole voice",
          "id": "obj-24"
        }
      }
    ],
    "lines": [
      {
        "patchline": {
          "source": [
            "obj-2",
            0
          ],
          "destination": [
            "obj-3",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-4",
            0
          ],
          "destination": [
            "obj-5",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-9",
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
            "obj-9",
            1
          ],
          "destination": [
            "obj-10",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-10",
            0
          ],
          "destination": [
            "obj-11",
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
            "obj-15",
            1
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
            1
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
            "obj-18",
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
            "obj-11",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-18",
            2
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
            "obj-3",
            0
          ],
          "destination": [
            "obj-20",
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
            "obj-20",
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
            "obj-20",
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
            "obj-20",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-7",
            0
          ],
          "destination": [
            "obj-20",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "obj-20",
            0
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
            "obj-20",
            1
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
            "obj-23",
            0
          ],
          "destination": [
            "obj-5",
            0
          ]
        }
      }
    ],
    "dependency_cache": [],
    "autosave": 0
  }
}
