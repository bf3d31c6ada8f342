import TernServer

TernMain.main(arguments: CommandLine.arguments)
