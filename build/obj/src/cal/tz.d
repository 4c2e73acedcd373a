build/obj/src/cal/tz.o: src/cal/tz.c src/cal/cal_int.h
src/cal/cal_int.h:
