"""Phase 1: git history -> commits.jsonl."""

from gitlm.scrape.scraper import scrape
from gitlm.scrape.stats import ScrapeStats
from gitlm.scrape.workspace_writer import scrape_to_workspace

__all__ = ["ScrapeStats", "scrape", "scrape_to_workspace"]
