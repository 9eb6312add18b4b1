from vlmdata.cli import entry

entry()
