/**
 * A small, fixed corpus of source code (TypeScript, Python, C, Rust, Go, JSON, shell, Markdown) that the
 * generator trains its BPE merges on, so that real code tokenizes into real merges. Changing this text
 * changes every generated vocabulary: bump GENERATOR_VERSION in model-spec.ts when editing it.
 */
export const CODE_CORPUS = String.raw`
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface Options {
  readonly name: string;
  readonly count: number;
  enabled?: boolean;
}

export class Cache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    if (this.map.size >= this.capacity) {
      const first = this.map.keys().next().value;
      if (first !== undefined) this.map.delete(first);
    }
    this.map.set(key, value);
  }
}

export async function loadConfig(file: string): Promise<Options> {
  const text = await readFile(file, 'utf8');
  const data = JSON.parse(text) as Partial<Options>;
  if (typeof data.name !== 'string') {
    throw new Error('missing name in ' + path.basename(file));
  }
  return { name: data.name, count: data.count ?? 0, enabled: data.enabled ?? true };
}

function sum(values: number[]): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    total += values[i];
  }
  return total;
}

const result = [1, 2, 3].map((x) => x * 2).filter((x) => x > 2);
console.log(result.length, sum(result));

export default async function main(args: string[]): Promise<number> {
  try {
    const options = await loadConfig(args[0] ?? 'config.json');
    for (const item of items) {
      if (!item.enabled) continue;
      await writeFile(item.path, JSON.stringify(item, null, 2));
    }
    return 0;
  } catch (error) {
    console.error(error);
    return 1;
  }
}

import os
import sys
from typing import List, Optional, Dict


class Node:
    def __init__(self, value: int, children: Optional[List["Node"]] = None) -> None:
        self.value = value
        self.children = children or []

    def __repr__(self) -> str:
        return f"Node({self.value}, {len(self.children)})"


def depth(node: Node) -> int:
    if not node.children:
        return 1
    return 1 + max(depth(child) for child in node.children)


def read_lines(path: str) -> List[str]:
    with open(path, "r", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def count_words(lines: List[str]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for line in lines:
        for word in line.split():
            counts[word] = counts.get(word, 0) + 1
    return counts


if __name__ == "__main__":
    lines = read_lines(sys.argv[1])
    for word, n in sorted(count_words(lines).items(), key=lambda kv: -kv[1])[:10]:
        print(word, n)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int size;
    int capacity;
    float *data;
} vector_t;

static int vector_push(vector_t *v, float x) {
    if (v->size == v->capacity) {
        int capacity = v->capacity ? v->capacity * 2 : 16;
        float *data = realloc(v->data, capacity * sizeof(float));
        if (data == NULL) {
            return -1;
        }
        v->data = data;
        v->capacity = capacity;
    }
    v->data[v->size++] = x;
    return 0;
}

int main(int argc, char **argv) {
    vector_t v = {0};
    for (int i = 0; i < argc; i++) {
        vector_push(&v, (float) strlen(argv[i]));
    }
    printf("%d values\n", v.size);
    free(v.data);
    return 0;
}

use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub id: u32,
    pub text: String,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.id, self.text)
    }
}

pub fn build_index(tokens: &[Token]) -> HashMap<String, u32> {
    let mut index = HashMap::new();
    for token in tokens.iter() {
        index.insert(token.text.clone(), token.id);
    }
    index
}

package main

import (
	"fmt"
	"strings"
)

func reverse(s string) string {
	runes := []rune(s)
	for i, j := 0, len(runes)-1; i < j; i, j = i+1, j-1 {
		runes[i], runes[j] = runes[j], runes[i]
	}
	return string(runes)
}

func main() {
	words := strings.Fields("the quick brown fox")
	for _, w := range words {
		fmt.Println(reverse(w))
	}
}

{
  "name": "example",
  "version": "1.0.0",
  "scripts": { "build": "tsc -p .", "test": "node --test" },
  "dependencies": { "express": "^4.18.2" }
}

#!/usr/bin/env bash
set -euo pipefail
for file in src/*.ts; do
  echo "checking $file"
  npx tsc --noEmit "$file" || exit 1
done

# Example

This function returns the sum of the values in the list. It is used to compute the total
of the numbers when the input is not empty, and returns zero otherwise.

export function isEmpty(value: string | null | undefined): boolean {
  return value === null || value === undefined || value.trim().length === 0;
}

export const enum Kind { Function = 1, Class = 2, Variable = 3 }

export type Handler = (request: Request, response: Response) => Promise<void>;

async function fetchJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { headers: { 'Content-Type': 'application/json' } });
  if (!response.ok) {
    throw new Error('request failed with status ' + response.status);
  }
  return (await response.json()) as T;
}

def fibonacci(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise IndexError("pop from empty stack")
        return self.items.pop()

    def is_empty(self):
        return len(self.items) == 0
`;
