#!/usr/bin/env bash
echo "lab: not wired yet"
