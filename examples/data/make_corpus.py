"""Writes the demo corpus: short English sentences from a small grammar,
deterministic (seeded), so a tiny byte-level model has patterns to learn."""
import random
import sys

SUBJECTS = ["the cat", "a dog", "the old man", "my sister", "the teacher", "a small bird",
            "the farmer", "our neighbour", "the child", "a tired horse"]
VERBS = ["sees", "likes", "finds", "carries", "paints", "follows", "feeds", "watches"]
OBJECTS = ["the red ball", "a green apple", "the wooden boat", "a long letter",
           "the blue door", "a warm loaf of bread", "the quiet river", "a yellow kite"]
PLACES = ["in the garden", "by the river", "at the market", "on the hill",
          "near the school", "under the bridge"]
TIMES = ["in the morning", "at noon", "every evening", "on sunday", "after the rain"]


def sentence(rng):
    words = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
    if rng.random() < 0.6:
        words.append(rng.choice(PLACES))
    if rng.random() < 0.4:
        words.append(rng.choice(TIMES))
    return " ".join(words) + "."


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "corpus.txt"
    rng = random.Random(1234)
    lines = [sentence(rng) for _ in range(3000)]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
