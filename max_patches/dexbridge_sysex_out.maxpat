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
      80.0,
      100.0,
      820.0,
      700.0
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
            790,
            76.0
          ],
          "text": "dexbridge SysEx out - forwards the bridge's SysEx to a hardware DX7 / TX7 over a MIDI interface. HOW TO USE: (1) start the daemon on a virtual port with the DIN byte budget: dexbridge serve --midi-out virtual:dexbridge --din --mode param (or --mode dump). (2) Left menu: the bridge's port ('dexbridge'); right menu: the MIDI interface wired to the DX7's MIDI IN. (3) On the DX7: FUNCTION > SYS INFO AVAIL, MEMORY PROTECT off, and the receive channel = the daemon's --channel. --din keeps the bridge under 3 125 bytes/s, what a DIN cable carries. Only SysEx is forwarded (play the DX7's own keys). Below: the way back - the synth's voice dumps go to the bridge's input port (start the daemon with --midi-in virtual:dexbridge-in).",
          "linecount": 5,
          "fontsize": 13.0,
          "id": "obj-1"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "loadbang",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            15,
            110,
            66.0,
            22.0
          ],
          "outlettype": [
            "bang"
          ],
          "id": "obj-2"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "t b b",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            15,
            140,
            45.0,
            22.0
          ],
          "outlettype": [
            "bang",
            "bang"
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
            15,
            170,
            30.0,
            22.0
          ],
          "text": "-1",
          "outlettype": [
            ""
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
            205,
            250,
            20.0
          ],
          "text": "from the bridge (its --midi-out port):",
          "linecount": 1,
          "id": "obj-5"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "midiinfo",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            15,
            230,
            66.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-6"
        }
      },
      {
        "box": {
          "maxclass": "umenu",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            15,
            260,
            250,
            22
          ],
          "outlettype": [
            "int",
            "",
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
            400,
            205,
            300,
            20.0
          ],
          "text": "to the DX7 / TX7 (MIDI interface):",
          "linecount": 1,
          "id": "obj-8"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "midiinfo",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            400,
            230,
            66.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-9"
        }
      },
      {
        "box": {
          "maxclass": "umenu",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            400,
            260,
            250,
            22
          ],
          "outlettype": [
            "int",
            "",
            ""
          ],
          "id": "obj-10"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "sysexin",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            15,
            295,
            59.0,
            22.0
          ],
          "outlettype": [
            "int"
          ],
          "id": "obj-11"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "midiout",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            400,
            330,
            59.0,
            22.0
          ],
          "id": "obj-12"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "sxformat 240 67 32 0 247",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            400,
            365,
            180,
            22.0
          ],
          "outlettype": [
            "int"
          ],
          "id": "obj-13"
        }
      },
      {
        "box": {
          "maxclass": "button",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            590,
            365,
            22,
            22
          ],
          "outlettype": [
            "bang"
          ],
          "id": "obj-14"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            620,
            360,
            190,
            48.0
          ],
          "text": "ask the synth for its voice (TX7, DX7II; a DX7 sends it when you select a voice)",
          "linecount": 3,
          "id": "obj-15"
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
            250,
            20.0
          ],
          "text": "from the DX7 / TX7:",
          "linecount": 1,
          "id": "obj-16"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "midiinfo",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            15,
            435,
            66.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-17"
        }
      },
      {
        "box": {
          "maxclass": "umenu",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            15,
            465,
            250,
            22
          ],
          "outlettype": [
            "int",
            "",
            ""
          ],
          "id": "obj-18"
        }
      },
      {
        "box": {
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            400,
            410,
            300,
            20.0
          ],
          "text": "to the bridge (its --midi-in port):",
          "linecount": 1,
          "id": "obj-19"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "midiinfo",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            400,
            435,
            66.0,
            22.0
          ],
          "outlettype": [
            ""
          ],
          "id": "obj-20"
        }
      },
      {
        "box": {
          "maxclass": "umenu",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            400,
            465,
            250,
            22
          ],
          "outlettype": [
            "int",
            "",
            ""
          ],
          "id": "obj-21"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "sysexin",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            15,
            500,
            59.0,
            22.0
          ],
          "outlettype": [
            "int"
          ],
          "id": "obj-22"
        }
      },
      {
        "box": {
          "maxclass": "newobj",
          "text": "midiout",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            400,
            535,
            59.0,
            22.0
          ],
          "id": "obj-23"
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
            "obj-3",
            1
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
            "obj-4",
            0
          ],
          "destination": [
            "obj-6",
            1
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
            "obj-7",
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
            "obj-9",
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
            "obj-7",
            1
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
            "obj-10",
            1
          ],
          "destination": [
            "obj-12",
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
            "obj-12",
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
            "obj-12",
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
            "obj-13",
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
            "obj-17",
            1
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
            "obj-18",
            1
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
            "obj-21",
            1
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
            "obj-22",
            0
          ],
          "destination": [
            "obj-23",
            0
          ]
        }
      }
    ],
    "dependency_cache": [],
    "autosave": 0
  }
}
