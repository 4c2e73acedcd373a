build/obj/src/cal/holidays.o: src/cal/holidays.c src/cal/cal.h config.h
src/cal/cal.h:
config.h:
