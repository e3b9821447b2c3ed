"""Label quality: how several labels of one item combine (consensus) and how far
annotators agree. Framework-free math lives in plain modules here; nothing in this
package imports Django except its selectors and services."""
