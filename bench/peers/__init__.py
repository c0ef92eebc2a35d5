"""The peers benchmark (``invoke bench --peers``): Gatehouse side by side with what a user would
pick instead, each served as its own docs recommend (bench/README.md, "Peers")."""
